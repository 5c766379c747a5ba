package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// mcpServer is one MCP server entry of a client's configuration: its name
// and how the client starts it. Nothing else of the entry (its env, which
// can hold keys) is read.
type mcpServer struct {
	name    string
	command string
	args    []string
}

// mcpClient is an MCP client whose user configuration doctor knows.
type mcpClient struct {
	name string
	path string
	read func(data []byte, cwd string) ([]mcpServer, error)
	fix  string // how to add relay-host, with %s for the binary
}

// maxClientConfig bounds what doctor reads of a client's file.
const maxClientConfig = 16 << 20

// mcpClientItems says, for each MCP client whose configuration file exists
// (Claude Code ~/.claude.json, Codex ~/.codex/config.toml, Gemini CLI
// ~/.gemini/settings.json), whether one of its servers runs this
// relay-host's `mcp`. Read-only, and never needed: an agent without
// relay-host is no reason reviews cannot run. It names files and server
// entries only.
func mcpClientItems(g *Globals, home string) []doctorItem {
	if home == "" {
		return nil
	}
	codexHome := g.IO.Getenv("CODEX_HOME")
	if !filepath.IsAbs(codexHome) {
		codexHome = filepath.Join(home, ".codex")
	}
	clients := []mcpClient{
		{"Claude Code", filepath.Join(home, ".claude.json"), readClaudeServers, "claude mcp add --scope user relay -- %s mcp"},
		{"Codex", filepath.Join(codexHome, "config.toml"), readCodexServers, `add [mcp_servers.relay] with command = "%s" and args = ["mcp"]`},
		{"Gemini CLI", filepath.Join(home, ".gemini", "settings.json"), readMCPServersJSON, `add "mcpServers": {"relay": {"command": "%s", "args": ["mcp"]}}`},
	}
	self := selfBinaries(g)
	bin := filepath.Join(g.IO.SelfDir, "relay-host")
	cwd, _ := os.Getwd()
	var items []doctorItem
	for _, c := range clients {
		data, err := readLimited(c.path)
		if os.IsNotExist(err) {
			continue
		}
		where := c.name + " (" + tilde(c.path, home) + ")"
		it := doctorItem{Check: "mcp_client", Fix: fmt.Sprintf(c.fix, bin)}
		var servers []mcpServer
		if err == nil {
			servers, err = c.read(data, cwd)
		}
		if err != nil {
			it.Detail = where + ": cannot be read: " + err.Error()
			items = append(items, it)
			continue
		}
		var ours, others []string
		for _, s := range servers {
			if len(s.args) == 0 || s.args[0] != "mcp" {
				continue
			}
			base := filepath.Base(s.command)
			resolved := resolveCommand(s.command, g.IO.Getenv("PATH"))
			switch {
			case resolved != "" && self[resolved]:
				ours = append(ours, s.name)
			case base == "relay-host" || base == "relay-host-core":
				others = append(others, fmt.Sprintf("%s runs %s", s.name, tilde(s.command, home)))
			}
		}
		switch {
		case len(ours) > 0:
			it.OK, it.Fix = true, ""
			it.Detail = fmt.Sprintf("%s: server %s runs this relay-host", where, strings.Join(ours, ", "))
		case len(others) > 0:
			it.Detail = fmt.Sprintf("%s: %s, not this relay-host (%s)", where, strings.Join(others, "; "), tilde(bin, home))
		default:
			it.Detail = where + ": no MCP server runs relay-host mcp"
		}
		items = append(items, it)
	}
	return items
}

// selfBinaries are this relay-host's front and core binaries, resolved:
// either serves `mcp`.
func selfBinaries(g *Globals) map[string]bool {
	out := map[string]bool{}
	for _, p := range []string{filepath.Join(g.IO.SelfDir, "relay-host"), g.IO.SelfExe} {
		if p == "" {
			continue
		}
		if r, err := filepath.EvalSymlinks(p); err == nil {
			out[r] = true
		}
	}
	return out
}

// resolveCommand is the file a client would run for command: looked up on
// PATH when it has no slash, with symlinks resolved; "" when there is none.
func resolveCommand(command, path string) string {
	if command == "" {
		return ""
	}
	if strings.HasPrefix(command, "~/") {
		return "" // the clients do not expand ~: it would not start
	}
	cands := []string{command}
	if !strings.Contains(command, "/") {
		cands = nil
		for _, d := range filepath.SplitList(path) {
			if filepath.IsAbs(d) {
				cands = append(cands, filepath.Join(d, command))
			}
		}
	}
	for _, c := range cands {
		if fi, err := os.Stat(c); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			if r, err := filepath.EvalSymlinks(c); err == nil {
				return r
			}
		}
	}
	return ""
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxClientConfig+1))
	if err == nil && len(b) > maxClientConfig {
		err = fmt.Errorf("over %d MiB", maxClientConfig>>20)
	}
	return b, err
}

// jsonServers is the "mcpServers" object both Claude Code and Gemini CLI use.
type jsonServers map[string]struct {
	Command string   `json:"command"`
	Args    []string `json:"args"`
}

func (js jsonServers) list() []mcpServer {
	var out []mcpServer
	for name, s := range js {
		out = append(out, mcpServer{name: name, command: s.Command, args: s.Args})
	}
	return out
}

// readMCPServersJSON reads a settings.json's top-level mcpServers.
func readMCPServersJSON(data []byte, _ string) ([]mcpServer, error) {
	var f struct {
		MCPServers jsonServers `json:"mcpServers"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not JSON")
	}
	return f.MCPServers.list(), nil
}

// readClaudeServers reads ~/.claude.json: the user's servers, and those of
// the project in cwd (`claude mcp add` without --scope).
func readClaudeServers(data []byte, cwd string) ([]mcpServer, error) {
	var f struct {
		MCPServers jsonServers `json:"mcpServers"`
		Projects   map[string]struct {
			MCPServers jsonServers `json:"mcpServers"`
		} `json:"projects"`
	}
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("not JSON")
	}
	out := f.MCPServers.list()
	if p, ok := f.Projects[cwd]; ok {
		out = append(out, p.MCPServers.list()...)
	}
	return out, nil
}

// readCodexServers reads the [mcp_servers.NAME] tables of Codex's
// config.toml: their command and args keys, as `codex mcp add` writes
// them (one line each). It is not a TOML parser; an entry written some
// other way is reported as not running relay-host, which the fix covers.
func readCodexServers(data []byte, _ string) ([]mcpServer, error) {
	var out []mcpServer
	cur := -1 // the entry whose table the line is in
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			cur = -1
			name, ok := strings.CutPrefix(strings.TrimSpace(strings.Trim(line, "[]")), "mcp_servers.")
			if !ok {
				continue
			}
			if u, err := strconv.Unquote(name); err == nil {
				name = u
			} else if strings.Contains(name, ".") {
				continue // a subtable, such as mcp_servers.relay.env
			}
			out = append(out, mcpServer{name: name})
			cur = len(out) - 1
			continue
		}
		key, val, ok := strings.Cut(line, "=")
		if cur < 0 || !ok {
			continue
		}
		val = strings.TrimSpace(val)
		switch strings.TrimSpace(key) {
		case "command":
			if s, err := strconv.Unquote(val); err == nil {
				out[cur].command = s
			}
		case "args":
			var args []string
			if json.Unmarshal([]byte(val), &args) == nil {
				out[cur].args = args
			}
		}
	}
	return out, nil
}
