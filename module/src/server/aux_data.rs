//! Data saved in every RDB file beside the keyspace: a module type with no
//! keys whose aux callbacks write and read it (`RM_CreateDataType` with
//! only `aux_save2` and `aux_load`).
//!
//! The caller says what to write and read ([`AuxData`]) through
//! [`AuxWriter`] and [`AuxReader`]; the callbacks, their arguments and
//! panics stay here.

use std::marker::PhantomData;
use std::os::raw::c_int;
use std::panic::{catch_unwind, AssertUnwindSafe};

use redis_module::native_types::RedisType;
use redis_module::raw;

use super::redis_log;

/// What a module type's aux data is: written before the keyspace, and read
/// back from there.
pub trait AuxData {
    /// Writes the data; writing nothing writes nothing for the type either.
    fn save(out: &mut AuxWriter);
    /// Reads what [`AuxData::save`] wrote with the type's encoding version
    /// `encver`. An error refuses the whole RDB file; the caller logs why.
    fn load(input: &mut AuxReader, encver: i32) -> Result<(), ()>;
}

/// A module type named `name` (9 characters) that carries `T`'s aux data
/// before the keyspace, at encoding version `encver`, and has no keys.
pub const fn aux_data_type<T: AuxData>(name: &'static str, encver: i32) -> RedisType {
    RedisType::new(
        name,
        encver,
        raw::RedisModuleTypeMethods {
            version: raw::REDISMODULE_TYPE_METHOD_VERSION as u64,
            rdb_load: None,
            rdb_save: None,
            aof_rewrite: None,
            free: None,
            mem_usage: None,
            digest: None,
            aux_load: Some(aux_load::<T>),
            // `aux_save2` rather than `aux_save`: when it writes nothing,
            // Redis writes nothing for the type either.
            aux_save: None,
            aux_save2: Some(aux_save::<T>),
            aux_save_triggers: raw::Aux::Before as i32,
            free_effort: None,
            unlink: None,
            copy: None,
            defrag: None,
            mem_usage2: None,
            free_effort2: None,
            unlink2: None,
            copy2: None,
        },
    )
}

/// Writes aux data into the RDB file being saved.
pub struct AuxWriter<'a> {
    io: *mut raw::RedisModuleIO,
    _saving: PhantomData<&'a mut raw::RedisModuleIO>,
}

impl AuxWriter<'_> {
    pub fn unsigned(&mut self, value: u64) {
        raw::save_unsigned(self.io, value);
    }

    pub fn bytes(&mut self, value: &[u8]) {
        raw::save_slice(self.io, value);
    }
}

/// Reads aux data from the RDB file being loaded; each read fails on a
/// truncated or damaged file.
pub struct AuxReader<'a> {
    io: *mut raw::RedisModuleIO,
    _loading: PhantomData<&'a mut raw::RedisModuleIO>,
}

impl AuxReader<'_> {
    pub fn unsigned(&mut self) -> Result<u64, ()> {
        raw::load_unsigned(self.io).map_err(|_| ())
    }

    pub fn bytes(&mut self) -> Result<Vec<u8>, ()> {
        raw::load_string_buffer(self.io)
            .map(|buffer| buffer.as_ref().to_vec())
            .map_err(|_| ())
    }
}

/// Never panics into Redis: a panic leaves what was written incomplete, so
/// that loading the file fails (loudly) rather than dropping data.
extern "C" fn aux_save<T: AuxData>(io: *mut raw::RedisModuleIO, when: c_int) {
    if when != raw::Aux::Before as c_int || io.is_null() {
        return;
    }
    let mut out = AuxWriter {
        io,
        _saving: PhantomData,
    };
    if catch_unwind(AssertUnwindSafe(|| T::save(&mut out))).is_err() {
        redis_log(
            "warning",
            "internal error while saving module data to the RDB file",
        );
    }
}

/// Never panics into Redis: a panic refuses the RDB file.
extern "C" fn aux_load<T: AuxData>(
    io: *mut raw::RedisModuleIO,
    encver: c_int,
    when: c_int,
) -> c_int {
    if when != raw::Aux::Before as c_int || io.is_null() {
        redis_log(
            "warning",
            &format!("unexpected module data position {when} in the RDB file (expected before the keyspace)"),
        );
        return raw::REDISMODULE_ERR as c_int;
    }
    let mut input = AuxReader {
        io,
        _loading: PhantomData,
    };
    match catch_unwind(AssertUnwindSafe(|| T::load(&mut input, encver))) {
        Ok(Ok(())) => raw::REDISMODULE_OK as c_int,
        Ok(Err(())) => raw::REDISMODULE_ERR as c_int,
        Err(_) => {
            redis_log(
                "warning",
                "internal error while loading module data from the RDB file",
            );
            raw::REDISMODULE_ERR as c_int
        }
    }
}
