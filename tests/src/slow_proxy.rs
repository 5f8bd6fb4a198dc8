//! A slow link to a broker: a loopback proxy that holds every chunk it
//! passes, either way, for a delay.

use std::time::Duration;

/// A slow link to a broker: a loopback proxy that holds every chunk it
/// passes, either way, for `delay`.
pub struct SlowProxy {
    pub port: u16,
}

impl SlowProxy {
    pub fn start(target: u16, delay: Duration) -> SlowProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a listener");
        let port = listener.local_addr().expect("its address").port();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = std::net::TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                for (from, to) in [
                    (client.try_clone(), server.try_clone()),
                    (server.try_clone(), client.try_clone()),
                ] {
                    let (Ok(mut from), Ok(mut to)) = (from, to) else {
                        continue;
                    };
                    std::thread::spawn(move || {
                        use std::io::{Read, Write};
                        let mut buffer = [0u8; 64 * 1024];
                        while let Ok(n) = from.read(&mut buffer) {
                            if n == 0 {
                                break;
                            }
                            std::thread::sleep(delay);
                            if to.write_all(&buffer[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(std::net::Shutdown::Both);
                    });
                }
            }
        });
        SlowProxy { port }
    }
}
