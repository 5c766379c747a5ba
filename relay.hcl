# relay.hcl: relay-host configuration.
#
# This file is the documented default and is embedded in the relay-host
# binary, so relay-host works with no config file at all. Other files are
# layered over it, later over earlier:
#
#   1. this file (built in)
#   2. $XDG_CONFIG_HOME/relay/relay.hcl   (else ~/.config/relay/relay.hcl)
#   3. relay-host --config FILE           (else $RELAY_CONFIG)
#   4. the reviewed repository's ./relay.hcl or ./.relay.hcl, only after
#      `relay-host config trust` recorded that exact content, and only to
#      narrow: lower limit, budget, timeout and max_total, more exclude.
#      It may not set plugin, plugin_dirs, checksum, env, settings or any
#      other admission attribute.
#
# Merge rules: a later layer changes only what it sets. provider and route
# blocks merge by name, attribute by attribute; settings merge key by key;
# env and plugin_dirs are replaced whole; setting plugin without checksum
# drops an earlier checksum; exclude patterns add up. So a file with only
#   provider "apireviewer" { route "deepseek" { limit = 2 } }
# keeps every built-in provider. `relay-host config show` prints the result
# and where each value came from.
#
# Paths may start with "~" or "$HOME"; relative paths are refused.
# Sizes are bytes (131072) or strings like "512KiB", "1MiB", "120KB" (KB = 1000
# bytes, KiB = 1024). Durations are strings like "30s", "10m", "1h".

admission {
  # "local" (default): counting semaphores in lock files on this machine.
  # "etcd": one limit shared by a fleet of machines (set endpoints; prefix
  # and ttl are optional).
  backend = "local"

  # Where the local backend keeps its slot files. Default:
  # $XDG_STATE_HOME/relay/locks/v2, else ~/.local/state/relay/locks/v2.
  # lock_root = "~/.local/state/relay/locks/v2"

  # Optional cap on reviews running at once across all routes, taken before
  # the route's own slot. Unset means no global cap.
  # max_total = 8

  # How long `relay-host review` waits for a free slot before giving up
  # (exit 75). "0s" fails at once; --wait overrides it per run.
  wait = "0s"

  # etcd backend only:
  # endpoints = ["https://etcd-1.example:2379", "https://etcd-2.example:2379"]
  # prefix    = "/relay/admission/"
  # ttl       = "30s"   # a crashed holder's slot frees within this time
}

# The job store ($XDG_STATE_HOME/relay/jobs, else ~/.local/state/relay/jobs):
# `relay-host jobs prune` removes the records of finished jobs started longer
# ago than keep ("30d", "12h"; --older-than overrides it). Nothing is pruned
# on its own, and a queued or running job never is. A repository's relay.hcl
# may not set this.
jobs {
  keep = "30d"
}

# Extra directories searched for relay-provider-<name> binaries, before the
# directory of the relay-host binary and PATH.
# plugin_dirs = ["~/.local/lib/relay/plugins"]

# Files never sent, in .gitignore syntax, on top of .relayignore and the
# built-in secret patterns. Patterns add up across layers; "!" (re-include)
# is refused here: only the repository's .relayignore may re-include.
# exclude = ["vendor/**", "*.min.js"]

# One block per provider. Attributes:
#   plugin   = plugin binary: a name looked up in plugin_dirs, next to
#              relay-host and on PATH, or an absolute path.
#              Default "relay-provider-<name>".
#   checksum = "sha256:<64 hex digits>": refuse a binary that does not match.
#   env      = the only host environment variables (beyond PATH, HOME, TMPDIR,
#              locale, proxy and XDG variables) passed to the plugin. Their
#              values are redacted from everything the plugin returns.
#   settings = provider-specific strings, checked by the plugin.
#
# Per route:
#   limit    = reviews allowed at once on the route (a whole number >= 1).
#              Routes that share a CLI's state directory or an account
#              (shared_state) always run one at a time: a limit above 1 is
#              an error there. Stateless API routes default to the limit the
#              plugin declares, lowered (never raised) by its
#              RELAY_*_CONCURRENCY_LIMIT variable.
#   budget   = largest diff + prompt sent to the route (default "512KiB").
#   timeout  = how long one review may take before it is stopped and
#              recorded as failed with error_code timeout. Every built-in
#              route sets one, so no review can hang for good: 15m for
#              routes that run a CLI or a web session (claude, gemini, kimi,
#              grokweb), 5m for direct API routes (apireviewer). A route
#              without one (a third-party plugin's) gets 10m. --timeout
#              overrides it for one run.
#   settings = route-specific strings, checked by the plugin.

provider "claude" {
  plugin = "relay-provider-claude"
  env    = ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_BASE_URL", "CLAUDE_CONFIG_DIR"]

  # shared_state: $CLAUDE_CONFIG_DIR, else ~/.claude. One review at a time.
  route "subscription" {
    timeout = "15m"
  }
}

provider "gemini" {
  plugin = "relay-provider-gemini"
  # GEMINI_CONFIG_DIR is accepted only as an alias for GEMINI_CLI_HOME.
  env = ["GEMINI_API_KEY", "GOOGLE_GEMINI_BASE_URL", "GEMINI_CLI_HOME", "GEMINI_CONFIG_DIR"]

  # shared_state: $GEMINI_CLI_HOME/.gemini, else ~/.gemini.
  route "subscription" {
    timeout = "15m"
  }
}

provider "kimi" {
  plugin = "relay-provider-kimi"
  env    = ["KIMI_SHARE_DIR", "KIMI_API_KEY", "KIMI_BASE_URL", "KIMI_MODEL_NAME"]

  # shared_state: $KIMI_SHARE_DIR, else ~/.kimi.
  route "subscription" {
    timeout = "15m"
  }
}

provider "grokweb" {
  plugin = "relay-provider-grokweb"
  env = [
    "GROK_BASE_URL", "GROK_API_KEY", "GROK_MODEL",
    "GROK2API_ENDPOINT", "GROK2API_ADMIN_KEY", "GROK2API_API_KEY", "GROK2API_HOME",
  ]

  # shared_state: ~/.grok. The prompt goes in argv, which Linux caps at
  # 128 KiB per string, so the packet budget stays below it.
  route "cli" {
    budget  = "112KiB"
    timeout = "15m"
  }

  # shared_state: the grok2api endpoint and account (GROK2API_ENDPOINT and
  # GROK2API_ADMIN_KEY), else the managed tunnel's home (GROK2API_HOME).
  route "web" {
    timeout = "15m"
  }
}

provider "apireviewer" {
  plugin = "relay-provider-apireviewer"
  env = [
    "DEEPSEEK_API_KEY", "DEEPSEEK_BASE_URL", "GLM_API_KEY", "GLM_BASE_URL",
    "RELAY_DEEPSEEK_CONCURRENCY_LIMIT", "RELAY_GLM_CONCURRENCY_LIMIT",
    "RELAY_CUSTOM_DIRECT_API_CONCURRENCY_LIMIT",
  ]

  # stateless: the plugin declares a default limit of 4, lowered by
  # RELAY_DEEPSEEK_CONCURRENCY_LIMIT. Set `limit` to override the default.
  route "deepseek" {
    timeout = "5m"
    # limit = 4
    settings = {
      base_url = "https://api.deepseek.com"
      model    = "deepseek-v4-flash"
    }
  }

  # stateless: default limit 4, lowered by RELAY_GLM_CONCURRENCY_LIMIT.
  route "glm" {
    timeout = "5m"
    # limit = 4
    settings = {
      base_url = "https://open.bigmodel.cn/api/paas/v4"
      model    = "glm-4.7"
    }
  }

  # stateless: any OpenAI-compatible endpoint, a local model server too.
  # Default limit 1, lowered by RELAY_CUSTOM_DIRECT_API_CONCURRENCY_LIMIT.
  # api_key_env names the variable holding the key; add it to env above.
  route "custom" {
    timeout = "5m"
    # limit = 1
    settings = {
      base_url    = ""
      model       = ""
      api_key_env = ""
    }
  }
}
