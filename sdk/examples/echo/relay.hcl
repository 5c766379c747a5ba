# A config for trying relay-host with the echo example plugin, which needs
# no account: bin/relay-host review echo --config sdk/examples/echo/relay.hcl
provider "echo" {
  # relay-provider-echo is found beside bin/relay-host.
  route "default" {
    limit = 2
  }
}
