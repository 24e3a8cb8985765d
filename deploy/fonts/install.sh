#!/bin/sh
# Gongkai: fonts and LibreOffice for rendering the annual report (.docx → PDF/PNG) on Debian 12.
#
# Installs, only when missing:
#   fonts-noto-cjk            Noto Serif/Sans CJK SC (stand-in for 方正小标宋简体; fallback)
#   texlive-lang-chinese      the Fandol fonts (仿宋_GB2312, 黑体, 楷体_GB2312, 宋体 stand-ins)
#   libreoffice-writer-nogui  headless `soffice --convert-to pdf`
#   poppler-utils             pdffonts / pdftotext / pdftoppm (tests)
# and the fontconfig aliases 65-gongkai-gbt9704.conf (official font names → free fonts).
# Idempotent: a second run changes nothing and needs no network.
#
# Usage: sh deploy/fonts/install.sh [--no-office]
set -eu

here=$(cd "$(dirname "$0")" && pwd)
conf_name=65-gongkai-gbt9704.conf
conf_src="$here/$conf_name"
conf_avail=/etc/fonts/conf.avail/$conf_name
conf_link=/etc/fonts/conf.d/$conf_name

packages="fontconfig fonts-noto-cjk texlive-lang-chinese poppler-utils"
if [ "${1:-}" != "--no-office" ]; then
    packages="$packages libreoffice-writer-nogui"
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

missing=""
for p in $packages; do
    installed "$p" || missing="$missing $p"
done
# The full libreoffice-writer (with GUI) serves as well as the -nogui one.
case "$missing" in
    *libreoffice-writer-nogui*)
        if installed libreoffice-writer; then
            missing=$(echo "$missing" | sed 's/ libreoffice-writer-nogui//')
        fi
        ;;
esac

changed=0
if [ -n "$missing" ]; then
    echo "deploy/fonts: installing Debian packages:$missing"
    $SUDO apt-get update -qq
    # shellcheck disable=SC2086  # word splitting of the package list is intended
    $SUDO env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends $missing
    changed=1
fi

if ! cmp -s "$conf_src" "$conf_avail" 2>/dev/null; then
    echo "deploy/fonts: installing $conf_avail"
    $SUDO install -D -m 0644 "$conf_src" "$conf_avail"
    changed=1
fi
if [ "$(readlink "$conf_link" 2>/dev/null || true)" != "$conf_avail" ]; then
    $SUDO ln -sfn "$conf_avail" "$conf_link"
    changed=1
fi
if [ "$changed" = 1 ]; then
    $SUDO fc-cache -f >/dev/null
fi

# Check the aliases resolve to the intended fonts.
status=0
check() {
    got=$(fc-match -f '%{family[0]}' "$1")
    if [ "$got" != "$2" ]; then
        echo "deploy/fonts: $1 resolves to '$got', expected '$2'" >&2
        status=1
    fi
}
check 方正小标宋简体 "Noto Serif CJK SC"
check 仿宋_GB2312 FandolFang
check 黑体 FandolHei
check 楷体_GB2312 FandolKai
check 宋体 FandolSong
if [ "$status" = 0 ] && [ "$changed" = 1 ]; then
    echo "deploy/fonts: fonts ready (方正小标宋简体→Noto Serif CJK SC Bold, 仿宋→FandolFang," \
        "黑体→FandolHei, 楷体→FandolKai, 宋体→FandolSong)"
fi
exit "$status"
