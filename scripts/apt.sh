# Sourced by the other scripts: `apt_install PKG...` installs Debian packages through
# apt-get (with sudo unless root), quietly, once per call; nothing when given none.
apt_install() {
    [ $# -gt 0 ] || return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "== installing $*"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
