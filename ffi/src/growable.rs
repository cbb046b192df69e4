//! Structs that can grow: every struct a C caller allocates and passes by
//! pointer to an ABI 1 function (`genkit_azure_config`, `genkit_azure_stats`,
//! `genkit_azure_span`, ...) starts with `size_t struct_size`, which the
//! caller sets to `sizeof` the struct as its header declares it. New fields
//! are only ever appended, so:
//!
//! - a program built against an older ABI 1 header passes a smaller size:
//!   the fields it does not know read as zero, which means "default" /
//!   "not set" for every field;
//! - a program built against a newer header passes a larger size: accepted
//!   when every byte this library does not know is zero (the caller left
//!   the new fields at their defaults), refused otherwise, since it asked
//!   for something this library cannot do (as Linux's `openat2` and
//!   `clone3` do with their `size` argument);
//! - a size smaller than the struct's first ABI 1 version can only be a
//!   mistake (0: never set) and is refused with
//!   `GENKIT_AZURE_INVALID_STRUCT_SIZE`;
//! - an output struct (`genkit_azure_stats`) is written up to its
//!   `struct_size` and never past it; bytes this library does not know are
//!   zeroed.
//!
//! Programs built against the header from before `struct_size`
//! (`tests/c/abi/genkit_azure_v0.h`) call the unsuffixed symbols, which read
//! those frozen layouts (`crate::v0`).

use crate::boundary::{try_ref, FfiError, FfiResult, Path};
use crate::status::genkit_azure_status::GENKIT_AZURE_INVALID_STRUCT_SIZE;

/// A `struct_size` larger than this is garbage (an uninitialised field),
/// not a future version.
const MAX_STRUCT_SIZE: usize = 1 << 16;

/// A `#[repr(C)]` struct whose first field is `struct_size: usize`.
///
/// # Safety
/// The implementing type must be `#[repr(C)]`, start with a `usize`, and be
/// valid when all its bytes are zero (pointers NULL, numbers 0, bools false,
/// optional callbacks NULL); its fields must be valid for any bytes C may
/// store in them that the type system allows (as every struct here is
/// already read from C memory as is).
pub(crate) unsafe trait Growable: Sized {
    /// The C type name, for messages.
    const NAME: &'static str;
    /// Where the last field of the struct's first ABI 1 version ends: no
    /// caller of ABI 1 passes less. Frozen (the tests pin it).
    const FIRST_SIZE: usize;
}

/// Checks a `struct_size` against `T`.
fn check_size<T: Growable>(size: usize, path: &Path<'_>) -> FfiResult<()> {
    if size > MAX_STRUCT_SIZE {
        return Err(FfiError::new(
            GENKIT_AZURE_INVALID_STRUCT_SIZE,
            format!(
                "{path}.struct_size is {size}, which is impossibly large for a {name}; \
                 set it to sizeof the struct (e.g. `x.struct_size = sizeof x;`)",
                name = T::NAME,
            ),
        ));
    }
    if size < T::FIRST_SIZE {
        return Err(FfiError::new(
            GENKIT_AZURE_INVALID_STRUCT_SIZE,
            format!(
                "{path}.struct_size is {size}, but a {name} has at least {first} bytes{hint}; \
                 set it to sizeof the struct (e.g. `x.struct_size = sizeof x;`)",
                name = T::NAME,
                first = T::FIRST_SIZE,
                hint = if size == 0 {
                    " (0: it was never set)"
                } else {
                    ""
                },
            ),
        ));
    }
    Ok(())
}

/// Reads the growable struct `*ptr` as this library knows it: NULL and
/// misaligned pointers and bad sizes are refused, fields the caller's
/// (older) version lacks read as zero.
///
/// # Safety
/// If `ptr` is non-NULL and aligned it must be valid for reading its
/// `struct_size` bytes (at least the first `usize`).
pub(crate) unsafe fn read_sized<T: Growable>(ptr: *const T, path: &Path<'_>) -> FfiResult<T> {
    // SAFETY: forwarded from the caller; only the first field is read through it.
    let _ = unsafe { try_ref(ptr.cast::<usize>(), path) }?;
    // SAFETY: non-NULL and aligned for T, hence for its first field, a usize.
    let size = unsafe { ptr.cast::<usize>().read() };
    check_size::<T>(size, path)?;
    let known = size_of::<T>();
    if size > known {
        // SAFETY: the caller promised `size` readable bytes.
        let tail = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>().add(known), size - known) };
        if let Some(i) = tail.iter().position(|&b| b != 0) {
            return Err(FfiError::new(
                GENKIT_AZURE_INVALID_STRUCT_SIZE,
                format!(
                    "{path}.struct_size is {size} and byte {at} is not zero: the program sets \
                     fields of a newer {name} than this library ({version}, {known} bytes) \
                     knows; use a newer library",
                    at = known + i,
                    name = T::NAME,
                    version = genkit_azure::VERSION,
                ),
            ));
        }
    }
    let mut value = std::mem::MaybeUninit::<T>::zeroed();
    // SAFETY: `size.min(known)` bytes are readable at `ptr` (the caller's
    // promise) and writable in `value`; the two do not overlap.
    unsafe {
        std::ptr::copy_nonoverlapping(
            ptr.cast::<u8>(),
            value.as_mut_ptr().cast::<u8>(),
            size.min(known),
        )
    };
    // SAFETY: all-zero is a valid T, and the bytes copied over it are the
    // caller's T as the `Growable` contract allows.
    let mut value = unsafe { value.assume_init() };
    // SAFETY: T starts with its usize struct_size (`Growable`).
    unsafe { (&mut value as *mut T).cast::<usize>().write(known) };
    Ok(value)
}

/// Writes `value` into the caller's growable output struct `*out`, whose
/// `struct_size` the caller set: never past that size; what this library
/// does not know (a newer caller's fields) is zeroed; `struct_size` stays
/// as the caller set it.
///
/// `fields_start` is the offset of the field after `struct_size`: the
/// bytes from there to the end of `T` are copied, so they must hold no
/// padding (`genkit_azure_stats` is all `uint64_t` counters).
///
/// # Safety
/// If `out` is non-NULL and aligned it must be valid for reading its first
/// `usize` and writing its `struct_size` bytes; `T` must have no padding
/// from `fields_start` on.
pub(crate) unsafe fn write_sized<T: Growable>(
    out: *mut T,
    value: &T,
    fields_start: usize,
    path: &Path<'_>,
) -> FfiResult<()> {
    // SAFETY: forwarded from the caller; only the first field is read through it.
    let _ = unsafe { try_ref(out.cast_const().cast::<usize>(), path) }?;
    // SAFETY: non-NULL and aligned for T, hence for its first field.
    let size = unsafe { out.cast::<usize>().read() };
    check_size::<T>(size, path)?;
    let known = size_of::<T>();
    let skip = fields_start;
    // SAFETY: `size` writable bytes at `out` (the caller's promise), and
    // `size >= FIRST_SIZE > fields_start`; the source is a live T of `known`
    // bytes with no padding past `skip`; struct_size (and any padding after
    // it) is left alone.
    unsafe {
        let dst = out.cast::<u8>();
        std::ptr::copy_nonoverlapping(
            (value as *const T).cast::<u8>().add(skip),
            dst.add(skip),
            size.min(known) - skip,
        );
        if size > known {
            std::ptr::write_bytes(dst.add(known), 0, size - known);
        }
    }
    Ok(())
}

/// Where `$field` (of type `$t`) of `$s` ends.
macro_rules! end_of {
    ($s:ty, $field:ident: $t:ty) => {
        std::mem::offset_of!($s, $field) + size_of::<$t>()
    };
}

/// Implements [`Growable`] for each struct, with the last field of its
/// first ABI 1 version (never to change when fields are appended).
macro_rules! growable {
    ($($m:ident::$s:ident: $last:ident: $t:ty;)*) => {$(
        // SAFETY: each is repr(C), starts with `struct_size: usize`, and
        // holds only raw pointers, integers, floats, bools, byte arrays and
        // optional function pointers: valid all-zero.
        unsafe impl Growable for crate::$m::$s {
            const NAME: &'static str = stringify!($s);
            const FIRST_SIZE: usize = end_of!(crate::$m::$s, $last: $t);
        }
    )*};
}

growable! {
    config::genkit_azure_config: token_user_data: *mut std::ffi::c_void;
    stats::genkit_azure_stats: custom_sampled_out: u64;
    span::genkit_azure_span: operation_name: *const std::ffi::c_char;
    log::genkit_azure_log_record: logger_name: *const std::ffi::c_char;
    operation::genkit_azure_span_start: root_operation_name: *const std::ffi::c_char;
    custom::genkit_azure_custom_event: operation_name: *const std::ffi::c_char;
    custom::genkit_azure_exception: operation_name: *const std::ffi::c_char;
    custom::genkit_azure_availability: operation_name: *const std::ffi::c_char;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::genkit_azure_config;
    use crate::custom::{
        genkit_azure_availability, genkit_azure_custom_event, genkit_azure_exception,
    };
    use crate::log::genkit_azure_log_record;
    use crate::operation::genkit_azure_span_start;
    use crate::span::genkit_azure_span;
    use crate::stats::genkit_azure_stats;
    use crate::status::genkit_azure_status::*;

    /// The first ABI 1 sizes are part of the ABI: appending fields must not
    /// change them (they are where the last field of version 1 ends).
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn first_sizes_are_frozen() {
        let firsts = [
            (
                genkit_azure_config::NAME,
                genkit_azure_config::FIRST_SIZE,
                216,
            ),
            (
                genkit_azure_stats::NAME,
                genkit_azure_stats::FIRST_SIZE,
                352,
            ),
            (genkit_azure_span::NAME, genkit_azure_span::FIRST_SIZE, 152),
            (
                genkit_azure_log_record::NAME,
                genkit_azure_log_record::FIRST_SIZE,
                80,
            ),
            (
                genkit_azure_span_start::NAME,
                genkit_azure_span_start::FIRST_SIZE,
                48,
            ),
            (
                genkit_azure_custom_event::NAME,
                genkit_azure_custom_event::FIRST_SIZE,
                88,
            ),
            (
                genkit_azure_exception::NAME,
                genkit_azure_exception::FIRST_SIZE,
                88,
            ),
            (
                genkit_azure_availability::NAME,
                genkit_azure_availability::FIRST_SIZE,
                120,
            ),
        ];
        let got: Vec<_> = firsts.iter().map(|(n, f, _)| (*n, *f)).collect();
        let wanted: Vec<_> = firsts.iter().map(|(n, _, w)| (*n, *w)).collect();
        assert_eq!(got, wanted);
    }

    fn span_start(size: usize) -> genkit_azure_span_start {
        genkit_azure_span_start {
            struct_size: size,
            trace_id: [7; 16],
            parent_span_id: [1; 8],
            parent_is_remote: true,
            root_operation_name: c"op".as_ptr(),
        }
    }

    #[test]
    fn sizes_too_small_or_absurd_are_refused_naming_the_struct() {
        let path = Path::Root("start");
        let s = span_start(usize::MAX);
        // SAFETY: a live struct; the size is refused before any read past it.
        let e = unsafe { read_sized(&s, &path) }.map(drop).unwrap_err();
        assert_eq!(e.status, GENKIT_AZURE_INVALID_STRUCT_SIZE);
        assert!(
            e.message
                .contains("impossibly large for a genkit_azure_span_start"),
            "{}",
            e.message
        );
        for size in [0, 8, genkit_azure_span_start::FIRST_SIZE - 1] {
            let s = span_start(size);
            // SAFETY: a live struct; the sizes are refused before any read past it.
            let e = unsafe { read_sized(&s, &path) }.map(drop).unwrap_err();
            assert_eq!(e.status, GENKIT_AZURE_INVALID_STRUCT_SIZE);
            assert!(
                e.message.starts_with(&format!(
                    "start.struct_size is {size}, but a genkit_azure_span_start has at least"
                )),
                "{}",
                e.message
            );
        }
        let e = unsafe { read_sized(&span_start(0), &path) }
            .map(drop)
            .unwrap_err();
        assert!(e.message.contains("(0: it was never set)"), "{}", e.message);
        // SAFETY: NULL is refused.
        let e = unsafe { read_sized::<genkit_azure_span_start>(std::ptr::null(), &path) }
            .map(drop)
            .unwrap_err();
        assert_eq!(e.status, GENKIT_AZURE_NULL_ARGUMENT);
    }

    #[test]
    fn a_newer_struct_is_read_when_its_unknown_fields_are_zero() {
        // A newer header's struct: this one plus 16 bytes of fields.
        #[repr(C)]
        struct Newer {
            known: genkit_azure_span_start,
            more: [u64; 2],
        }
        let mut newer = Newer {
            known: span_start(size_of::<Newer>()),
            more: [0; 2],
        };
        let path = Path::Root("start");
        // SAFETY: `struct_size` bytes are readable.
        let read = unsafe { read_sized(&newer.known, &path) }.unwrap();
        assert_eq!(read.struct_size, size_of::<genkit_azure_span_start>());
        assert_eq!((read.trace_id, read.parent_is_remote), ([7; 16], true));

        newer.more[1] = 5;
        // SAFETY: as above.
        let e = unsafe { read_sized(&newer.known, &path) }
            .map(drop)
            .unwrap_err();
        assert_eq!(e.status, GENKIT_AZURE_INVALID_STRUCT_SIZE);
        assert!(
            e.message
                .contains("fields of a newer genkit_azure_span_start"),
            "{}",
            e.message
        );
    }

    #[test]
    fn output_structs_are_written_up_to_their_size_and_no_further() {
        let start = std::mem::offset_of!(genkit_azure_stats, spans_accepted);
        let value = genkit_azure_stats {
            struct_size: size_of::<genkit_azure_stats>(),
            spans_accepted: 1,
            custom_sampled_out: 9,
            ..Default::default()
        };
        // A newer caller's struct: ours plus two counters, poisoned.
        #[repr(C)]
        struct Newer {
            known: genkit_azure_stats,
            more: [u64; 2],
            guard: u64,
        }
        let mut out = Newer {
            known: genkit_azure_stats {
                struct_size: size_of::<genkit_azure_stats>() + 16,
                ..Default::default()
            },
            more: [0xAA; 2],
            guard: 0xBB,
        };
        // SAFETY: `struct_size` bytes are writable.
        unsafe { write_sized(&mut out.known, &value, start, &Path::Root("out")) }.unwrap();
        assert_eq!(
            out.known.struct_size,
            size_of::<genkit_azure_stats>() + 16,
            "left as set"
        );
        assert_eq!(
            (out.known.spans_accepted, out.known.custom_sampled_out),
            (1, 9)
        );
        assert_eq!(out.more, [0, 0], "what this library does not know reads 0");
        assert_eq!(out.guard, 0xBB, "nothing past struct_size");

        let mut small = genkit_azure_stats {
            struct_size: 8,
            spans_accepted: 77,
            ..Default::default()
        };
        // SAFETY: a live struct; refused before any write.
        let e = unsafe { write_sized(&mut small, &value, start, &Path::Root("out")) }.unwrap_err();
        assert_eq!(e.status, GENKIT_AZURE_INVALID_STRUCT_SIZE);
        assert_eq!(small.spans_accepted, 77, "a refused call writes nothing");
    }
}
