// Command kimi is a test stand-in for Moonshot's Kimi CLI in print mode.
// The real CLI is a Python package the test machines cannot install from
// the registries they reach, so this program stands in for it alone; it
// mimics what the plugin relies on, as kimi-cli's print mode documents it:
//
//   - flags: --print, --quiet (= --print --output-format text
//     --final-message-only), --output-format text|stream-json,
//     --input-format text, --final-message-only, -w/--work-dir, -m/--model,
//     -p/--prompt/-c/--command, --yolo, --config (accepted, ignored),
//     --max-retries-per-step N (N ≥ 1, default 3: the attempts at each
//     model call, as kimi-cli's loop_control; the stand-in retries a 429,
//     5xx or connection error that many times in all, as kimi does),
//     --agent-file PATH (an agent spec; one whose tools are "[]" makes the
//     model calls offer no tools, which they otherwise do: the default
//     agent's tool names).
//     Anything else: click's "No such option" and exit 2. Without
//     --print/--quiet it refuses (no interactive shell here).
//   - the prompt comes from -p, else stdin (read to EOF, stripped).
//   - state under $KIMI_SHARE_DIR, else ~/.kimi: config.toml (written on the
//     first run), kimi.json (last session per work dir), logs/kimi.log and
//     sessions/<md5 of work dir>/<session id>/context.jsonl.
//   - the model: KIMI_BASE_URL + KIMI_API_KEY + (-m, else KIMI_MODEL_NAME),
//     as the real CLI's env overrides of a "kimi" provider. Missing any of
//     them: "LLM not set", exit 1. It POSTs OpenAI-style chat completions to
//     $KIMI_BASE_URL/chat/completions with a Bearer key.
//   - errors go to stdout as text, as print mode does: "Error code: <status>
//   - <body>"; exit 75 (retryable) for 429/500/502/503/504, a connection
//     error ("Connection error.") or an empty answer; exit 1 otherwise.
//   - stream-json output: one assistant message per line whose content is
//     an array of parts, a "think" part before the "text" part; with
//     --final-message-only one {"role":"assistant","content":"<text>"}.
//
// Test knobs (environment): KIMI_STANDIN_MODE = "" | "tool" (a tool call and
// its result precede the answer) | "hang" (start a `sleep 300` helper in the
// same process group, write "<pid> <helper pid>" to KIMI_STANDIN_PIDFILE,
// then wait forever) | "fail" (exit 1 with an error) | "retryable" (exit 75)
// | "unauth" (exit 1, "LLM not set") — the last three without a server.
// KIMI_STANDIN_RECORD: a file to append one JSON line per run with the argv,
// the work dir, the cwd, the stdin size and the quiet switches (never a key).
package main

import (
	"bytes"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

func main() { os.Exit(run()) }

type options struct {
	print, finalOnly bool
	outputFormat     string
	workDir, model   string
	prompt           string
	promptSet        bool
	attempts         int
	noTools          bool // --agent-file names an agent with tools: []
}

func parse(argv []string) (options, int) {
	o := options{outputFormat: "text", attempts: 3}
	value := func(i *int, flag string) (string, bool) {
		if *i+1 >= len(argv) {
			fmt.Fprintf(os.Stderr, "Error: Option '%s' requires an argument.\n", flag)
			return "", false
		}
		*i++
		return argv[*i], true
	}
	for i := 0; i < len(argv); i++ {
		a := argv[i]
		flag, inline, hasInline := strings.Cut(a, "=")
		if !strings.HasPrefix(a, "--") {
			flag, hasInline = a, false
		}
		get := func() (string, bool) {
			if hasInline {
				return inline, true
			}
			return value(&i, flag)
		}
		var ok = true
		switch flag {
		case "--print":
			o.print = true
		case "--quiet":
			o.print, o.finalOnly, o.outputFormat = true, true, "text"
		case "--final-message-only":
			o.finalOnly = true
		case "--yolo", "-y", "--afk":
		case "--output-format":
			o.outputFormat, ok = get()
			if ok && o.outputFormat != "text" && o.outputFormat != "stream-json" {
				fmt.Fprintf(os.Stderr, "Error: Invalid value for '--output-format': '%s' is not one of 'text', 'stream-json'.\n", o.outputFormat)
				return o, 2
			}
		case "--input-format":
			var v string
			v, ok = get()
			if ok && v != "text" {
				fmt.Fprintln(os.Stderr, "kimi stand-in: only --input-format text is mimicked")
				return o, 2
			}
		case "-w", "--work-dir":
			o.workDir, ok = get()
		case "-m", "--model":
			o.model, ok = get()
		case "-p", "--prompt", "-c", "--command":
			o.prompt, ok = get()
			o.promptSet = true
		case "--config", "--config-file":
			_, ok = get()
		case "--agent-file":
			var path string
			if path, ok = get(); ok {
				data, err := os.ReadFile(path)
				if err != nil {
					fmt.Fprintf(os.Stderr, "Error: Invalid value for '--agent-file': File '%s' does not exist.\n", path)
					return o, 2
				}
				o.noTools = agentHasNoTools(string(data))
			}
		case "--max-retries-per-step":
			var v string
			if v, ok = get(); ok {
				if _, err := fmt.Sscanf(v, "%d", &o.attempts); err != nil || o.attempts < 1 {
					fmt.Fprintf(os.Stderr, "Error: Invalid value for '--max-retries-per-step': %s is not in the range x>=1.\n", v)
					return o, 2
				}
			}
		default:
			fmt.Fprintf(os.Stderr, "Usage: kimi [OPTIONS]\nTry 'kimi -h' for help.\n\nError: No such option: %s\n", a)
			return o, 2
		}
		if !ok {
			return o, 2
		}
	}
	return o, 0
}

func run() int {
	o, code := parse(os.Args[1:])
	if code != 0 {
		return code
	}
	if !o.print {
		fmt.Fprintln(os.Stderr, "kimi stand-in: only print mode (--print or --quiet) is mimicked")
		return 2
	}
	cwd, _ := os.Getwd()
	if o.workDir == "" {
		o.workDir = cwd
	}
	prompt := o.prompt
	var stdinLen int
	if !o.promptSet {
		b, _ := io.ReadAll(os.Stdin)
		stdinLen = len(b)
		prompt = strings.TrimSpace(string(b))
	}

	share := os.Getenv("KIMI_SHARE_DIR")
	if share == "" {
		home, _ := os.UserHomeDir()
		share = filepath.Join(home, ".kimi")
	}
	session := newID()
	sessionDir := filepath.Join(share, "sessions", fmt.Sprintf("%x", md5.Sum([]byte(o.workDir))), session)
	must(os.MkdirAll(filepath.Join(share, "logs"), 0o700))
	must(os.MkdirAll(sessionDir, 0o700))
	if _, err := os.Stat(filepath.Join(share, "config.toml")); os.IsNotExist(err) {
		must(os.WriteFile(filepath.Join(share, "config.toml"), []byte("default_model = \"\"\n\n[providers]\n\n[models]\n"), 0o600))
	}
	must(writeJSON(filepath.Join(share, "kimi.json"), map[string]any{"work_dirs": []any{map[string]any{"path": o.workDir, "last_session_id": session}}}))
	logf := func(format string, args ...any) {
		f, err := os.OpenFile(filepath.Join(share, "logs", "kimi.log"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err == nil {
			fmt.Fprintf(f, time.Now().UTC().Format(time.RFC3339Nano)+" | INFO | "+format+"\n", args...)
			f.Close()
		}
	}
	logf("session %s in %s", session, o.workDir)
	if rec := os.Getenv("KIMI_STANDIN_RECORD"); rec != "" {
		appendJSON(rec, map[string]any{
			"args": os.Args[1:], "cwd": cwd, "work_dir": o.workDir, "stdin_bytes": stdinLen,
			"telemetry_off": os.Getenv("KIMI_DISABLE_TELEMETRY") == "1", "auto_update_off": os.Getenv("KIMI_CLI_NO_AUTO_UPDATE") == "1",
			"share_dir": share,
		})
	}
	appendJSON(filepath.Join(sessionDir, "context.jsonl"), map[string]any{"role": "user", "content": prompt})
	if prompt == "" {
		return 0 // print mode skips an empty command
	}

	model := o.model
	if model == "" {
		model = os.Getenv("KIMI_MODEL_NAME")
	}
	mode := os.Getenv("KIMI_STANDIN_MODE")
	var reply string
	switch mode {
	case "fail":
		fmt.Println("Error code: 400 - {'error': {'message': 'Invalid request: the stand-in was told to fail', 'type': 'invalid_request_error'}}")
		return 1
	case "retryable":
		fmt.Println("Error code: 429 - {'error': {'message': 'Your account is rate limited, please retry later', 'type': 'rate_limit_reached_error'}}")
		return 75
	case "unauth":
		fmt.Println("LLM not set")
		return 1
	case "hang":
		helper := exec.Command("sleep", "300")
		must(helper.Start())
		if f := os.Getenv("KIMI_STANDIN_PIDFILE"); f != "" {
			must(os.WriteFile(f, []byte(fmt.Sprintf("%d %d\n", os.Getpid(), helper.Process.Pid)), 0o600))
		}
		select {}
	}
	base, key := os.Getenv("KIMI_BASE_URL"), os.Getenv("KIMI_API_KEY")
	if base == "" || key == "" || model == "" {
		logf("LLM not set")
		fmt.Println("LLM not set")
		return 1
	}
	for attempt := 1; ; attempt++ {
		var errLine string
		reply, code, errLine = chat(base, key, model, prompt, o.noTools)
		if code != 75 || attempt >= o.attempts {
			if errLine != "" {
				fmt.Println(errLine)
			}
			break
		}
		logf("retrying step for the %d time", attempt)
		time.Sleep(300 * time.Millisecond)
	}
	if code != 0 {
		logf("provider error, exit %d", code)
		return code
	}
	appendJSON(filepath.Join(sessionDir, "context.jsonl"), map[string]any{"role": "assistant", "content": reply})

	switch {
	case o.outputFormat == "text":
		if mode == "tool" && !o.finalOnly {
			fmt.Println("• Used Shell (ls)")
		}
		fmt.Println(reply)
	case o.finalOnly:
		printJSON(map[string]any{"role": "assistant", "content": reply})
	default:
		if mode == "tool" {
			printJSON(map[string]any{"role": "assistant", "content": []any{map[string]any{"type": "text", "text": "Let me look at the work dir."}},
				"tool_calls": []any{map[string]any{"type": "function", "id": "tc_1", "function": map[string]any{"name": "Shell", "arguments": `{"command":"ls"}`}}}})
			printJSON(map[string]any{"role": "tool", "tool_call_id": "tc_1", "content": ""})
		}
		printJSON(map[string]any{"role": "assistant", "content": []any{
			map[string]any{"type": "think", "think": "The diff is small; reviewing it."},
			map[string]any{"type": "text", "text": reply},
		}})
	}
	return 0
}

// chat is one non-streaming chat completion. It returns the answer, or
// the error line print mode shows and its exit code.
func chat(base, key, model, prompt string, noTools bool) (string, int, string) {
	call := map[string]any{"model": model, "messages": []any{map[string]any{"role": "user", "content": prompt}}}
	if !noTools {
		// The default agent's tools, as the real CLI offers them with
		// every call (names only: enough for a test to see the offer).
		var tools []any
		for _, name := range defaultAgentTools {
			tools = append(tools, map[string]any{"type": "function", "function": map[string]any{"name": name, "parameters": map[string]any{"type": "object"}}})
		}
		call["tools"] = tools
	}
	body, _ := json.Marshal(call)
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(base, "/")+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return "", 75, "Connection error."
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 75, "Connection error."
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", 75, "Connection error."
	}
	if resp.StatusCode != http.StatusOK {
		line := fmt.Sprintf("Error code: %d - %s", resp.StatusCode, strings.TrimSpace(string(data)))
		switch resp.StatusCode {
		case 429, 500, 502, 503, 504:
			return "", 75, line
		}
		return "", 1, line
	}
	var out struct {
		Choices []struct {
			Message struct {
				Content string `json:"content"`
			} `json:"message"`
		} `json:"choices"`
	}
	if json.Unmarshal(bytes.TrimSpace(data), &out) != nil || len(out.Choices) == 0 || out.Choices[0].Message.Content == "" {
		return "", 75, "API returned an empty response."
	}
	return out.Choices[0].Message.Content, 0, ""
}

func newID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func printJSON(v any) {
	b, _ := json.Marshal(v)
	fmt.Println(string(b))
}

func writeJSON(path string, v any) error {
	b, _ := json.Marshal(v)
	return os.WriteFile(path, b, 0o600)
}

func appendJSON(path string, v any) {
	b, _ := json.Marshal(v)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return
	}
	f.Write(append(b, '\n'))
	f.Close()
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "kimi stand-in:", err)
		os.Exit(1)
	}
}

// defaultAgentTools are the tools of kimi-cli's built-in default agent.
var defaultAgentTools = []string{"Task", "SetTodoList", "Shell", "ReadFile", "Glob", "Grep", "WriteFile", "StrReplaceFile", "SearchWeb", "FetchURL"}

// agentHasNoTools reports whether an agent spec (kimi-cli's agent.yaml,
// version 1) leaves the agent without tools: an explicit "tools: []". The
// real CLI reads the YAML; this stand-in only recognises that line, which
// is all the plugin writes.
func agentHasNoTools(spec string) bool {
	for _, line := range strings.Split(spec, "\n") {
		if strings.TrimSpace(line) == "tools: []" {
			return true
		}
	}
	return false
}
