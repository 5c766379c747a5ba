#!/bin/sh
# install.sh: install the pinned consumers the findings tests feed their
# output to, so that "valid SARIF" and "reviewdog reads it" are checked by
# the real programs:
#
#   - @microsoft/sarif-multitool 5.7.0 (npm), the official SARIF validator.
#     Its linux package ships a self-contained .NET binary, so it needs no
#     .NET runtime, only the executable bit its postinstall would set
#     (install scripts stay off, as in providers/install-clis.sh).
#   - reviewdog v0.21.0, built from the Go module proxy through the tools
#     module beside this script (go.mod/go.sum pin it and every dependency
#     by hash), so it never enters the main module's requirements.
#
#   host/internal/findings/testdata/tools/install.sh     into <repo>/.cache/findings-tools
#   RELAY_FINDINGS_TOOLS=DIR install.sh                 into DIR instead
#
# The tests find <cache>/bin/{sarif-multitool,reviewdog} (or the ones in
# $RELAY_FINDINGS_TOOLS). Idempotent: pinned versions already installed
# are kept. About 100 MB and a minute or two on cold caches.
set -eu

SARIF_MULTITOOL_VERSION=5.7.0

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../../../.." && pwd)
dest=${RELAY_FINDINGS_TOOLS:-$root/.cache/findings-tools}
bin=$dest/bin
mkdir -p "$bin"

for tool in node npm go; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "findings install.sh: $tool is not installed" >&2
		exit 1
	}
done

multitool=$dest/npm/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
if ! "$bin/sarif-multitool" --version 2>&1 | grep -q "^SARIF Multitool $SARIF_MULTITOOL_VERSION+"; then
	echo "findings install.sh: installing @microsoft/sarif-multitool@$SARIF_MULTITOOL_VERSION into $dest/npm"
	npm install --prefix "$dest/npm" --no-audit --no-fund --no-update-notifier \
		--ignore-scripts --save-exact --loglevel=error \
		"@microsoft/sarif-multitool@$SARIF_MULTITOOL_VERSION"
	chmod u+x "$multitool"
	ln -sfn ../npm/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool "$bin/sarif-multitool"
	"$bin/sarif-multitool" --version 2>&1 | grep -q "^SARIF Multitool $SARIF_MULTITOOL_VERSION+" || {
		echo "findings install.sh: the installed sarif-multitool does not run" >&2
		exit 1
	}
fi

# Rebuilt only when the tools module changed since the last build.
stamp=$bin/reviewdog.gosum
if [ ! -x "$bin/reviewdog" ] || ! cmp -s "$here/go.sum" "$stamp"; then
	echo "findings install.sh: building reviewdog (tools module $here) into $bin"
	(cd "$here" && go build -trimpath -o "$bin/reviewdog" github.com/reviewdog/reviewdog/cmd/reviewdog)
	cp "$here/go.sum" "$stamp"
fi

echo "sarif-multitool: $bin/sarif-multitool"
echo "reviewdog: $bin/reviewdog"
