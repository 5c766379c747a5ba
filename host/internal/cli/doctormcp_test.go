package cli

import (
	"fmt"
	"testing"
)

// TestReadCodexServers: the mcp_servers tables as codex mcp add writes
// them, a quoted name, and subtables and other tables that are not servers.
func TestReadCodexServers(t *testing.T) {
	toml := `model = "o4"
command = "not-a-server"

[mcp_servers.relay]
command = "/usr/local/bin/relay-host"
args = ["mcp", "--allow-resend"]

[mcp_servers.relay.env]
command = "inside env: not the server's"

[mcp_servers."my server"]
command = "relay-host"
args = ["mcp"]

[profiles.x]
command = "nope"
`
	got, err := readCodexServers([]byte(toml), "")
	if err != nil {
		t.Fatal(err)
	}
	want := "[{relay /usr/local/bin/relay-host [mcp --allow-resend]} {my server relay-host [mcp]}]"
	if fmt.Sprint(got) != want {
		t.Errorf("servers %v, want %s", got, want)
	}
}
