package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/relay-host/relay-host/providers/internal/onesend"
	"github.com/relay-host/relay-host/sdk"
)

// maxArgBytes is the most prompt-and-packet text the cli route puts in
// grok's argv: Linux refuses a single argv string over 128 KiB
// (MAX_ARG_STRLEN), and the margin keeps the failure ours, with a clear
// message, instead of an E2BIG from exec.
const maxArgBytes = 120 << 10

// errorPrefix starts the answer grok prints, with exit status 0, when its
// API call failed.
const errorPrefix = "Sorry, I encountered an error:"

// cliArgs is grok's argv after the binary. The prompt is the value of -p;
// no key or URL flag ever appears (grok would save them to
// ~/.grok/user-settings.json). One tool round is grok's least (it reads
// 0 as its default, 400); the tool guard lets no tool call through anyway.
func cliArgs(scratch, text string) []string {
	return []string{"-d", scratch, "--max-tool-rounds", "1", "-p", text}
}

// cliEnv is the plugin's environment (the host's allowlist plus the
// provider block's env: GROK_BASE_URL, GROK_API_KEY, GROK_MODEL) with the
// answer length raised, the model setting applied, the key given as
// GROK_API_KEY, the API reached through apiURL (the tool guard and the
// onesend relay in front of the real base URL) and HOME set to scratch:
// grok then never opens the user's ~/.grok (it would send ~/.grok/GROK.md
// to the model as instructions, and rewrite an older user-settings.json
// while reading the key from it).
func cliEnv(environ []string, s settings, maxTokensSet bool, key, apiURL, scratch string) []string {
	env := make([]string, 0, len(environ)+5)
	userMax := ""
	for _, kv := range environ {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case k == "GROK_MAX_TOKENS":
			userMax = v
			continue
		case k == "GROK_MODEL" && s.model != "":
			continue
		case k == "GROK_BASE_URL", k == "GROK_API_KEY", k == "HOME":
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "GROK_BASE_URL="+apiURL, "GROK_API_KEY="+key, "HOME="+scratch)
	maxTokens := strconv.Itoa(s.maxTokens)
	if !maxTokensSet && userMax != "" {
		maxTokens = userMax // the operator's GROK_MAX_TOKENS, unless the setting overrides it
	}
	env = append(env, "GROK_MAX_TOKENS="+maxTokens)
	if s.model != "" {
		env = append(env, "GROK_MODEL="+s.model)
	}
	return env
}

// apiKey is the key grok itself would use: GROK_API_KEY, else apiKey in
// ~/.grok/user-settings.json; "" when there is none.
func apiKey() string {
	if k := os.Getenv("GROK_API_KEY"); strings.TrimSpace(k) != "" {
		return k
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	data, err := os.ReadFile(filepath.Join(home, ".grok", "user-settings.json"))
	if err != nil {
		return ""
	}
	var us struct {
		APIKey string `json:"apiKey"`
	}
	if json.Unmarshal(data, &us) != nil || strings.TrimSpace(us.APIKey) == "" {
		return ""
	}
	return us.APIKey
}

// defaultBaseURL is grok's API when neither GROK_BASE_URL nor the user's
// settings name one.
const defaultBaseURL = "https://api.x.ai/v1"

// upstreamURL is the base URL grok itself would use: GROK_BASE_URL, else
// baseURL in ~/.grok/user-settings.json, else x.ai's.
func upstreamURL() string {
	if u := strings.TrimSpace(os.Getenv("GROK_BASE_URL")); u != "" {
		return u
	}
	if home, err := os.UserHomeDir(); err == nil {
		if data, err := os.ReadFile(filepath.Join(home, ".grok", "user-settings.json")); err == nil {
			var us struct {
				BaseURL string `json:"baseURL"`
			}
			if json.Unmarshal(data, &us) == nil && strings.TrimSpace(us.BaseURL) != "" {
				return strings.TrimSpace(us.BaseURL)
			}
		}
	}
	return defaultBaseURL
}

func reviewCLI(ctx context.Context, s settings, req sdk.ReviewRequest, ev sdk.Events) (sdk.Result, error) {
	bin, err := sdk.FindCLI(s.cliPath, "grok", "install it (npm install -g @vibe-kit/grok-cli)")
	if err != nil {
		return sdk.Result{}, err
	}
	key := apiKey()
	if key == "" {
		return sdk.Result{}, sdk.Errorf(sdk.CodeNotAuthenticated, "grok has no API key: set GROK_API_KEY and list it in the provider's env in relay.hcl")
	}
	text := input(req)
	if len(text) > maxArgBytes {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "prompt and packet are %d KiB, over the %d KiB grok takes in argv; review fewer files (--path), lower the route's budget, or use --route web", (len(text)+1023)>>10, maxArgBytes>>10)
	}
	// Headless grok loads the cwd's .env (before -d takes effect), reads
	// .grok/settings.json there (model, MCP servers) and .grok/GROK.md
	// (instructions), and writes .grok/settings.json: an empty scratch dir
	// is its cwd, -d and HOME, never the repository under review or the
	// user's home.
	scratch, err := os.MkdirTemp("", "relay-grok-")
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "cannot create a scratch directory: %v; check TMPDIR", errors.Unwrap(err))
	}
	defer os.RemoveAll(scratch)

	// grok's OpenAI client retries a 429 or 5xx twice, resending the
	// source each time, and has no setting to stop it: the relay forwards
	// one failed call and answers the retries itself.
	relay, err := onesend.Start(upstreamURL())
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "GROK_BASE_URL: %v; set it to the API's base URL, such as %s", err, defaultBaseURL)
	}
	defer relay.Close()
	// grok offers the model its tools and runs the calls it gets back,
	// with no switch to stop either: the guard strips the offer and
	// refuses an answer that calls a tool.
	guard, err := startToolGuard(relay.URL)
	if err != nil {
		return sdk.Result{}, sdk.Errorf(sdk.CodeConfigInvalid, "cannot start the tool guard: %v", err)
	}
	defer guard.Close()

	cmd := sdk.Command(ctx, bin, cliArgs(scratch, text)...)
	cmd.Dir = scratch
	cmd.Env = onesend.NoProxy(cliEnv(os.Environ(), s, req.Settings["max_tokens"] != "", key, guard.URL, scratch))
	ev.Progress("starting grok")
	var out cliOutput
	run, err := sdk.StreamCLI(ctx, ev, cmd, sdk.CLIStream{SourceInArgv: true, Line: out.line})
	if err != nil {
		return sdk.Result{}, err
	}
	exit := run.ExitCode
	if err := guard.Err(); err != nil {
		return sdk.Result{}, err
	}
	res, err := out.result(exit, run.Stderr, s.model)
	return res, withFailure(err, relay.Failure())
}

// withFailure corrects a failed run's error with what the relay saw of the
// API's answer: the HTTP status decides the code, and its Retry-After
// goes into the record.
func withFailure(err error, f *onesend.Failure) error {
	var e *sdk.Error
	if f == nil || !errors.As(err, &e) {
		return err
	}
	e.RetryAfter = f.RetryAfter
	switch {
	case f.Status == 429:
		e.Code = sdk.CodeUsageLimited
	case f.Status == 401 || f.Status == 403:
		e.Code = sdk.CodeNotAuthenticated
	case f.Status == 402:
		e.Code = sdk.CodeInsufficientBalance
	case f.Status >= 500 || f.Status == 0:
		e.Code = sdk.CodeProviderUnavailable
	}
	e.NotSent = false
	return e
}

// cliOutput collects grok's headless output: one JSON chat message per line
// ({"role":"user"|"assistant"|"tool","content":…,"tool_calls":…}), printed
// when the run ends. Lines that are not JSON are kept for error messages.
type cliOutput struct {
	final string // content of the last assistant message without tool calls
	plain sdk.Tail
}

func (o *cliOutput) line(raw string) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return
	}
	var m struct {
		Role      string          `json:"role"`
		Content   *string         `json:"content"`
		ToolCalls json.RawMessage `json:"tool_calls"`
	}
	if !strings.HasPrefix(raw, "{") || json.Unmarshal([]byte(raw), &m) != nil {
		o.plain.Add(raw)
		return
	}
	if m.Role == "assistant" && len(m.ToolCalls) == 0 && m.Content != nil {
		o.final = *m.Content
	}
}

// result turns a finished run into the review or a typed error; every error
// here is after transmission.
func (o *cliOutput) result(exit int, stderr, model string) (sdk.Result, error) {
	final := strings.TrimSpace(o.final)
	if final == "" {
		// Builds that print the answer as plain text start it the same way.
		for _, l := range o.plain.Lines() {
			if strings.HasPrefix(l, errorPrefix) {
				final = l
				break
			}
		}
	}
	sent := func(e *sdk.Error) (sdk.Result, error) { e.NotSent = false; return sdk.Result{}, e }
	switch {
	case strings.HasPrefix(final, errorPrefix):
		// API errors exit 0: this text is the only sign.
		return sent(classifyCLI(strings.TrimSpace(strings.TrimPrefix(final, errorPrefix))))
	case exit != 0:
		msg := strings.TrimPrefix(final, "Error:")
		if msg == "" {
			msg = strings.TrimSpace(o.plain.String() + "\n" + stderr)
		}
		if strings.Contains(msg, "API key required") {
			return sent(sdk.Errorf(sdk.CodeNotAuthenticated, "grok has no API key: set GROK_API_KEY and list it in the provider's env in relay.hcl"))
		}
		e := classifyCLI(msg)
		if e.Code == sdk.CodeReviewFailed {
			e.Message = "grok exited with status " + strconv.Itoa(exit) + ": " + shorten(msg)
		}
		return sent(e)
	case final == "":
		return sent(sdk.Errorf(sdk.CodeBadOutput, "grok printed no answer (%s)", shorten(o.plain.String()+" "+stderr)))
	}
	return sdk.Result{Review: o.final, Model: model}, nil
}

var (
	cliStatusRE = regexp.MustCompile(`(?:^|\s|:)([45]\d\d)\b`)
	cliLimitRE  = regexp.MustCompile(`(?i)rate.?limit|too many requests|quota`)
	cliAuthRE   = regexp.MustCompile(`(?i)unauthori[sz]ed|incorrect api key|invalid api key|authentication|api key required|forbidden`)
	cliCreditRE = regexp.MustCompile(`(?i)insufficient.?(?:balance|credits?)|out of credits|no credits`)
	cliNetRE    = regexp.MustCompile(`(?i)connection error|econnrefused|econnreset|enotfound|fetch failed|socket hang up|timed? ?out`)
)

// classifyCLI maps grok's error text ("Grok API error: 429 Rate limit
// reached…", "Grok API error: Connection error.") to a typed error.
func classifyCLI(msg string) *sdk.Error {
	status := 0
	if m := cliStatusRE.FindStringSubmatch(msg); m != nil {
		status, _ = strconv.Atoi(m[1])
	}
	short := shorten(msg)
	switch {
	case status == 429 || cliLimitRE.MatchString(msg):
		return sdk.Errorf(sdk.CodeUsageLimited, "grok is rate limited (%s); retry later", short)
	case status == 401 || status == 403 || cliAuthRE.MatchString(msg):
		return sdk.Errorf(sdk.CodeNotAuthenticated, "grok's API key was refused (%s); check GROK_API_KEY and GROK_BASE_URL", short)
	case status == 402 || cliCreditRE.MatchString(msg):
		return sdk.Errorf(sdk.CodeInsufficientBalance, "grok's account has no credit left (%s)", short)
	case status >= 500 || cliNetRE.MatchString(msg):
		return sdk.Errorf(sdk.CodeProviderUnavailable, "grok could not reach its API (%s); check GROK_BASE_URL or retry later", short)
	default:
		return sdk.Errorf(sdk.CodeReviewFailed, "grok failed (%s)", short)
	}
}
