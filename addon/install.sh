#!/bin/sh
# Installs the bridge into the add-on's image: run by addon/Dockerfile, tested outside Docker by
# test/addon/install.test.ts. What it installs, with npm:
#   - by default the package from the npm registry at the add-on's version: BUILD_VERSION, which
#     the Supervisor sets to the `version` of addon/config.yaml. That version must be published
#     (docs/development.md, "Releasing").
#   - PACKAGE=<path or spec> instead: e.g. a tarball of `npm pack` put in addon/packages/, for a
#     build from a working tree (addon/packages/README.md). Paths are relative to addon/.
# --engine-strict: npm refuses a Node.js older than package.json's engines (a base image whose
# nodejs is too old fails here, at build time, not at the first start).
# --ignore-scripts: the only install scripts in the package's dependencies are node-gyp builds of
# the optional native addons (i2c-bus, epoll under onoff: Turing Pi 1 and GPIO boards, which the
# add-on does not drive; they are imported only for those boards). npm 11 ignores --omit=optional
# for global installs of a tarball (npm/cli#8284, seen with npm 11.19), and the base image has no
# compiler: without this flag npm would try, and fail, to compile them.
set -eu
cd "$(dirname "$0")"
version="${BUILD_VERSION:-}"
if [ -z "$version" ]; then
  echo "install.sh: BUILD_VERSION is not set (the Supervisor sets it to addon/config.yaml's version;" \
    "by hand: --build-arg BUILD_VERSION=<version>)" >&2
  exit 2
fi
package="${PACKAGE:-turingpi-mqtt@$version}"
echo "install.sh: installing $package with Node.js $(node --version)"
npm install --global --engine-strict --ignore-scripts --omit=dev --omit=optional --no-audit --no-fund "$package"
installed="$(turingpi-mqtt --version)"
if [ "$installed" != "$version" ]; then
  echo "install.sh: $package is turingpi-mqtt $installed, but the add-on is version $version" >&2
  exit 1
fi
echo "install.sh: turingpi-mqtt $installed installed"
