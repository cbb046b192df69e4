#!/bin/sh
# Installs the C library, its header and its pkg-config file:
#
#   ffi/install.sh <directory holding the built library> <prefix>
#
# (`make install` runs it for target/release and PREFIX, /usr/local by
# default; DESTDIR is honoured for packaging.) It installs
#   <prefix>/lib/libgenkit_azure.so.<version>        the library
#   <prefix>/lib/libgenkit_azure.so.<ABI major>      -> it (the soname)
#   <prefix>/lib/libgenkit_azure.so                  -> the soname (for -lgenkit_azure)
#   <prefix>/lib/libgenkit_azure.a                   the static library, if built
#   <prefix>/include/genkit_azure.h
#   <prefix>/lib/pkgconfig/genkit_azure.pc           from ffi/genkit_azure.pc.in
# so that `cc app.c $(pkg-config --cflags --libs genkit_azure)` works.
set -eu

if [ $# -ne 2 ]; then
    echo "usage: $0 <directory holding libgenkit_azure.so> <prefix>" >&2
    exit 2
fi
built=$1
prefix=$2
root=$(cd "$(dirname "$0")/.." && pwd)
dest=${DESTDIR:-}

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$root/Cargo.toml" | head -n 1)
major=$(sed -n 's/^pub const GENKIT_AZURE_ABI_MAJOR: u32 = \([0-9]*\);$/\1/p' "$root/ffi/src/version.rs")
if [ -z "$version" ] || [ -z "$major" ]; then
    echo "$0: cannot read the version or the ABI major" >&2
    exit 1
fi
if [ ! -f "$built/libgenkit_azure.so" ]; then
    echo "$0: $built/libgenkit_azure.so does not exist; build it first (cargo build --release -p genkit-azure-ffi)" >&2
    exit 1
fi

lib=$dest$prefix/lib
mkdir -p "$lib/pkgconfig" "$dest$prefix/include"
install -m 0755 "$built/libgenkit_azure.so" "$lib/libgenkit_azure.so.$version"
ln -sf "libgenkit_azure.so.$version" "$lib/libgenkit_azure.so.$major"
ln -sf "libgenkit_azure.so.$major" "$lib/libgenkit_azure.so"
if [ -f "$built/libgenkit_azure.a" ]; then
    install -m 0644 "$built/libgenkit_azure.a" "$lib/libgenkit_azure.a"
fi
install -m 0644 "$root/include/genkit_azure.h" "$dest$prefix/include/genkit_azure.h"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" "$root/ffi/genkit_azure.pc.in" \
    > "$lib/pkgconfig/genkit_azure.pc"
chmod 0644 "$lib/pkgconfig/genkit_azure.pc"
echo "installed genkit_azure $version (ABI $major) under $dest$prefix"
