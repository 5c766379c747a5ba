#!/bin/sh
# install-clis.sh: install the pinned provider CLIs that the real-CLI tests
# (host/internal/e2e, provider_*_test.go) run against a fake model server.
#
#   providers/install-clis.sh            install into <repo>/.cache/clis
#   RELAY_CLI_CACHE=DIR install-clis.sh  install into DIR instead
#
# The binaries end up in <cache>/node_modules/.bin/{claude,gemini,grok}; the
# tests find them there (or in $RELAY_TEST_CLI_DIR). Idempotent: when the
# pinned versions are already installed and runnable it only prints where
# they are. Needs node >= 20 and npm; about 570 MB and ~50 s on a cold npm
# cache.
#
# Install scripts are off (--ignore-scripts): none of the dependency tree's
# native builds (node-pty, keytar) is needed headless. The one script that
# is needed is Claude Code's own postinstall (install.cjs), which copies the
# native binary from the platform package (@anthropic-ai/claude-code-<os>-<arch>,
# an optional dependency npm already downloaded) over the bin/claude.exe stub.
# It is run explicitly below, and nothing else is.
set -eu

CLAUDE_VERSION=2.1.332
GEMINI_VERSION=0.61.0
GROK_VERSION=0.0.34

root=$(cd "$(dirname "$0")/.." && pwd)
dest=${RELAY_CLI_CACHE:-$root/.cache/clis}
bin=$dest/node_modules/.bin

for tool in node npm; do
	command -v "$tool" >/dev/null 2>&1 || {
		echo "install-clis: $tool is not installed (Debian: apt-get install nodejs npm)" >&2
		exit 1
	}
done

# installed_version PKG prints the version of PKG under $dest, or nothing.
installed_version() {
	f=$dest/node_modules/$1/package.json
	[ -f "$f" ] || return 0
	node -e 'process.stdout.write(require(process.argv[1]).version)' "$f" 2>/dev/null || true
}

is_current() {
	[ "$(installed_version @anthropic-ai/claude-code)" = "$CLAUDE_VERSION" ] &&
		[ "$(installed_version @google/gemini-cli)" = "$GEMINI_VERSION" ] &&
		[ "$(installed_version @vibe-kit/grok-cli)" = "$GROK_VERSION" ] &&
		[ -x "$bin/claude" ] && [ -x "$bin/gemini" ] && [ -x "$bin/grok" ] &&
		# The stub left by a skipped postinstall is a 500-byte shell script
		# that exits 1; the real binary answers --version.
		"$bin/claude" --version >/dev/null 2>&1
}

if is_current; then
	echo "install-clis: pinned CLIs already installed"
else
	mkdir -p "$dest"
	echo "install-clis: installing claude-code@$CLAUDE_VERSION gemini-cli@$GEMINI_VERSION grok-cli@$GROK_VERSION into $dest"
	npm install --prefix "$dest" --no-audit --no-fund --no-update-notifier \
		--ignore-scripts --save-exact --loglevel=error \
		"@anthropic-ai/claude-code@$CLAUDE_VERSION" \
		"@google/gemini-cli@$GEMINI_VERSION" \
		"@vibe-kit/grok-cli@$GROK_VERSION"
	(cd "$dest/node_modules/@anthropic-ai/claude-code" && node install.cjs)
	if ! is_current; then
		echo "install-clis: the installed CLIs do not run (is the platform package of @anthropic-ai/claude-code missing?)" >&2
		exit 1
	fi
fi

for tool in claude gemini grok; do
	echo "$tool: $bin/$tool"
done
