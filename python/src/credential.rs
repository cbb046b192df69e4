//! `credential=`: a Python object with `get_token(*scopes)` as core's
//! `TokenCredential`, the protocol of `azure.identity`'s credentials.
//!
//! Core calls it on a blocking thread of the pipeline's runtime, one call at
//! a time; the GIL is taken for that call only (the credential's own network
//! I/O lets it go as Python I/O does). What it returns is read as
//! `azure.identity`'s `AccessToken` (or `AccessTokenInfo`): an object with
//! `.token` and `.expires_on`, or a `(token, expires_on)` tuple. Whatever it
//! raises becomes a failed call, said in a diagnostic (core blanks tokens out
//! of it); nothing here panics.

use crate::convert;
use genkit_azure::{AccessToken, CredentialError, TokenCredential};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyString, PyTuple};

pub(crate) struct PyCredential {
    object: Py<PyAny>,
}

impl PyCredential {
    /// Refuses, naming `credential`, an object without a callable `get_token`.
    pub fn new(object: &Bound<'_, PyAny>) -> PyResult<Self> {
        let callable = object
            .getattr_opt("get_token")?
            .is_some_and(|m| m.is_callable());
        if !callable {
            return Err(PyTypeError::new_err(format!(
                "credential: expected an object with a get_token(*scopes) method (an \
                 azure.identity credential), got {}",
                crate::type_name(object)
            )));
        }
        Ok(Self {
            object: object.clone().unbind(),
        })
    }
}

impl TokenCredential for PyCredential {
    fn get_token(&self, scopes: &[&str]) -> Result<AccessToken, CredentialError> {
        Python::attach(|py| {
            let scopes = PyTuple::new(py, scopes).map_err(|e| failed(py, "get_token", &e))?;
            let answer = self
                .object
                .bind(py)
                .call_method1("get_token", scopes)
                .map_err(|e| failed(py, "get_token", &e))?;
            read_token(&answer)
        })
    }
}

/// `credential.get_token raised ClientAuthenticationError: ...`.
fn failed(py: Python<'_>, what: &str, e: &PyErr) -> CredentialError {
    let kind = e
        .get_type(py)
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "an exception".into());
    let message = convert::display(e.value(py));
    CredentialError::new(if message.is_empty() {
        format!("credential.{what} raised {kind}")
    } else {
        format!("credential.{what} raised {kind}: {message}")
    })
}

/// The token in what `get_token` returned: `.token` and `.expires_on`, or a
/// 2-tuple. Errors say what came instead, never its value (it may be a token).
fn read_token(answer: &Bound<'_, PyAny>) -> Result<AccessToken, CredentialError> {
    let py = answer.py();
    let (token, expires_on) = match (
        answer.getattr_opt("token").ok().flatten(),
        answer.getattr_opt("expires_on").ok().flatten(),
    ) {
        (Some(token), Some(expires_on)) => (token, expires_on),
        _ => match answer.cast::<PyTuple>() {
            Ok(t) if t.len() == 2 => (
                t.get_item(0).map_err(|e| failed(py, "get_token", &e))?,
                t.get_item(1).map_err(|e| failed(py, "get_token", &e))?,
            ),
            _ => {
                let kind = crate::type_name(answer);
                if kind == "coroutine" {
                    // Never awaited: closed so Python does not warn about it.
                    let _ = answer.call_method0("close");
                    return Err(CredentialError::new(
                        "credential.get_token returned a coroutine: pass a synchronous \
                         credential (azure.identity, not azure.identity.aio)",
                    ));
                }
                return Err(CredentialError::new(format!(
                    "credential.get_token returned a {kind}; expected an object with .token and \
                     .expires_on (azure.identity's AccessToken) or a (token, expires_on) tuple"
                )));
            }
        },
    };
    let Ok(token) = token.cast::<PyString>() else {
        return Err(CredentialError::new(format!(
            "credential.get_token's token is a {}, not a str",
            crate::type_name(&token)
        )));
    };
    let token = token
        .to_str()
        .map_err(|_| CredentialError::new("credential.get_token's token holds a lone surrogate"))?;
    let expires_on = expiry(&expires_on)?;
    Ok(AccessToken::expiring_at_unix(token, expires_on))
}

/// `expires_on` as whole seconds since the Unix epoch: an int, or a float
/// (rounded down); a bool or anything else is refused.
fn expiry(value: &Bound<'_, PyAny>) -> Result<i64, CredentialError> {
    let wrong = || {
        CredentialError::new(format!(
            "credential.get_token's expires_on is a {}; expected seconds since the Unix epoch \
             (an int)",
            crate::type_name(value)
        ))
    };
    if value.is_instance_of::<PyBool>() {
        return Err(wrong());
    }
    if value.is_instance_of::<PyInt>() {
        // Past i64: as good as never (core caps the lifetime it plans with).
        return Ok(value.extract::<i64>().unwrap_or(i64::MAX));
    }
    if value.is_instance_of::<PyFloat>() {
        let secs: f64 = value.extract().map_err(|_| wrong())?;
        if secs.is_nan() {
            return Err(wrong());
        }
        // `as` saturates: infinities become the ends of i64.
        return Ok(secs.floor() as i64);
    }
    Err(wrong())
}
