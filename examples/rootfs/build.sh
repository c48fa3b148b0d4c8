#!/bin/sh
# Build the busybox root filesystem the examples run on, from Debian's busybox-static.
# Usage: examples/rootfs/build.sh   (creates examples/rootfs/busybox/)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
dest="$here/busybox"
[ -x /bin/busybox ] || { echo "busybox-static is missing: apt-get install busybox-static" >&2; exit 1; }
# The build example's context needs the static busybox next to its Dockerfile.
cp /bin/busybox "$here/../build-app/busybox"
if [ -x "$dest/bin/busybox" ]; then exit 0; fi
mkdir -p "$dest"
for d in bin sbin usr/bin usr/sbin etc root tmp home/app var/www proc sys dev; do mkdir -p "$dest/$d"; done
chmod 1777 "$dest/tmp"
cp /bin/busybox "$dest/bin/busybox"
for applet in $(/bin/busybox --list-full); do
  [ -e "$dest/$applet" ] || [ -L "$dest/$applet" ] || ln -s /bin/busybox "$dest/$applet"
done
cat > "$dest/etc/passwd" <<'P'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
app:x:1000:1000:app:/home/app:/bin/sh
P
cat > "$dest/etc/group" <<'G'
root:x:0:
nogroup:x:65534:
app:x:1000:
G
echo "hello from composer" > "$dest/var/www/index.html"
