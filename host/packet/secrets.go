package packet

import (
	"path"
	"strings"
)

// secretPatterns are base-name globs (wildmatch syntax) for files that hold
// credentials often enough that they never enter a packet, whatever
// .relayignore says. They are matched case-insensitively against the base
// name at any depth: on a case-insensitive file system ".ENV" is ".env".
var secretPatterns = []string{
	".env*", // .env, .env.local, .envrc (direnv often exports tokens)
	"*.pem",
	"*.key",
	"id_rsa*",
	"id_dsa*",
	"id_ecdsa*",
	"id_ed25519*",
	"*.ppk",
	"*.p12",
	"*.pfx",
	"*.jks",
	"*.keystore",
	".npmrc",
	".pypirc",
	".netrc",
	"_netrc",
	".git-credentials",
	".htpasswd",
	"credentials.json",
	"*.tfstate",
	"*.tfstate.*",
	"secrets.y*ml",
}

// isSecretPath reports whether the repository-relative path p names a file
// matching a built-in secret pattern.
func isSecretPath(p string) bool {
	base := strings.ToLower(path.Base(p))
	for _, pat := range secretPatterns {
		if wildmatch(pat, base, false) {
			return true
		}
	}
	return false
}
