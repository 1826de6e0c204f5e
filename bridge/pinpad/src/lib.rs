//! A PKCS#11 module for tests: SoftHSM2 seen through a PIN-pad reader.
//!
//! Card readers with a PIN pad report `CKF_PROTECTED_AUTHENTICATION_PATH` on the token, and
//! `C_Login` with a null PIN makes the doctor type the PIN on the reader. SoftHSM2 has no
//! reader, so this module forwards every function to the module named by
//! `$SHIKAKU_PINPAD_MODULE` (default: Debian's SoftHSM2) except two:
//!
//! - `C_GetTokenInfo` adds `CKF_PROTECTED_AUTHENTICATION_PATH` to the token's flags;
//! - `C_Login` with a null PIN logs in with the PIN "typed on the pad", `$SHIKAKU_PINPAD_PIN`;
//!   with that variable unset it returns `CKR_FUNCTION_CANCELED`, as a reader does when the
//!   doctor presses cancel. A PIN given by the caller is passed through.
//!
//! The variables are read when `C_Login` runs, so a test sets them for the process that loads
//! the module (the bridge host). Only the PKCS#11 2.40 `C_GetFunctionList` is exported.

use std::sync::OnceLock;

use cryptoki_sys::{
    CK_FUNCTION_LIST, CK_RV, CK_SESSION_HANDLE, CK_SLOT_ID, CK_TOKEN_INFO, CK_ULONG, CK_USER_TYPE,
    CK_UTF8CHAR_PTR, CKF_PROTECTED_AUTHENTICATION_PATH, CKR_ARGUMENTS_BAD, CKR_FUNCTION_CANCELED,
    CKR_GENERAL_ERROR, CKR_OK,
};

/// The module forwarded to.
pub const MODULE_ENV: &str = "SHIKAKU_PINPAD_MODULE";
/// The PIN the doctor types on the simulated pad.
pub const PIN_ENV: &str = "SHIKAKU_PINPAD_PIN";
const DEFAULT_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// The inner module (kept loaded for the life of the process), its function list, and ours.
struct Loaded {
    _library: libloading::Library,
    inner: CK_FUNCTION_LIST,
    outer: CK_FUNCTION_LIST,
}

// SAFETY: the function lists are tables of function pointers and a version, never written
// after `load` returns; PKCS#11 modules are called from any thread.
unsafe impl Send for Loaded {}
// SAFETY: as above.
unsafe impl Sync for Loaded {}

static LOADED: OnceLock<Result<Loaded, CK_RV>> = OnceLock::new();

fn load() -> Result<Loaded, CK_RV> {
    let path = std::env::var_os(MODULE_ENV).unwrap_or_else(|| DEFAULT_MODULE.into());
    // SAFETY: loading a PKCS#11 module runs its initializers; the inner module is a PKCS#11
    // module by configuration.
    let library = unsafe { libloading::Library::new(&path) }.map_err(|_| CKR_GENERAL_ERROR)?;
    type GetFunctionList = unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV;
    // SAFETY: `C_GetFunctionList` has this signature in every PKCS#11 module.
    let get: libloading::Symbol<'_, GetFunctionList> =
        unsafe { library.get(b"C_GetFunctionList\0") }.map_err(|_| CKR_GENERAL_ERROR)?;
    let mut list: *mut CK_FUNCTION_LIST = std::ptr::null_mut();
    // SAFETY: `list` is a valid place for the module to write its table's address.
    let rv = unsafe { get(&mut list) };
    if rv != CKR_OK || list.is_null() {
        return Err(if rv == CKR_OK { CKR_GENERAL_ERROR } else { rv });
    }
    // SAFETY: the module returned a non-null pointer to its function table, valid while the
    // library is loaded; it is copied.
    let inner = unsafe { *list };
    let mut outer = inner;
    outer.C_GetFunctionList = Some(C_GetFunctionList);
    outer.C_GetTokenInfo = Some(get_token_info);
    outer.C_Login = Some(login);
    Ok(Loaded { _library: library, inner, outer })
}

fn loaded() -> Result<&'static Loaded, CK_RV> {
    LOADED.get_or_init(load).as_ref().map_err(|rv| *rv)
}

/// PKCS#11 `C_GetFunctionList`: SoftHSM2's table with the PIN-pad token info and login.
///
/// # Safety
/// `list` is null or points to writable memory for one pointer (PKCS#11).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn C_GetFunctionList(list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    if list.is_null() {
        return CKR_ARGUMENTS_BAD;
    }
    match loaded() {
        Ok(l) => {
            // SAFETY: `list` is non-null and writable (caller contract); the table is 'static
            // and the caller only reads it (PKCS#11 declares the pointer for C's sake).
            unsafe { *list = (&raw const l.outer).cast_mut() };
            CKR_OK
        }
        Err(rv) => rv,
    }
}

unsafe extern "C" fn get_token_info(slot: CK_SLOT_ID, info: *mut CK_TOKEN_INFO) -> CK_RV {
    let Ok(l) = loaded() else { return CKR_GENERAL_ERROR };
    let Some(inner) = l.inner.C_GetTokenInfo else { return CKR_GENERAL_ERROR };
    // SAFETY: the caller's arguments are passed on unchanged to the function they were meant for.
    let rv = unsafe { inner(slot, info) };
    if rv == CKR_OK && !info.is_null() {
        // SAFETY: the inner module filled `*info`, a valid CK_TOKEN_INFO.
        unsafe { (*info).flags |= CKF_PROTECTED_AUTHENTICATION_PATH };
    }
    rv
}

unsafe extern "C" fn login(
    session: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    pin: CK_UTF8CHAR_PTR,
    len: CK_ULONG,
) -> CK_RV {
    let Ok(l) = loaded() else { return CKR_GENERAL_ERROR };
    let Some(inner) = l.inner.C_Login else { return CKR_GENERAL_ERROR };
    if !pin.is_null() {
        // SAFETY: the caller's arguments, unchanged.
        return unsafe { inner(session, user, pin, len) };
    }
    let Some(mut typed) = std::env::var_os(PIN_ENV).map(|p| p.into_encoded_bytes()) else {
        return CKR_FUNCTION_CANCELED;
    };
    let Ok(typed_len) = CK_ULONG::try_from(typed.len()) else { return CKR_ARGUMENTS_BAD };
    // SAFETY: `typed` lives across the call and holds `typed_len` bytes.
    unsafe { inner(session, user, typed.as_mut_ptr(), typed_len) }
}
