package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/relay-host/relay-host/sdk"
)

// toolGuard is a loopback proxy between grok and the onesend relay that
// keeps grok a reviewer without tools. grok 0.0.34 has no switch for that:
// every model call offers its tools (bash, file viewing and editing,
// search, to-do lists, any MCP server's), asks x.ai for live web search
// when the prompt mentions "now", "current" or a year, and in headless mode
// (-p) runs every tool call the model answers with, auto-approved, with
// the user's rights. So the guard
//
//   - removes the tool fields (tools, tool_choice, parallel_tool_calls,
//     functions, function_call) from every model call and sets
//     search_parameters to {"mode":"off"}: the model is offered nothing;
//   - refuses an answer that calls a tool anyway, or that grok could not be
//     shown to read safely (a redirect, which fetch would follow with the
//     source to wherever it points; an encoded body): grok gets an error
//     with `x-should-retry: false` instead, so it runs nothing and ends,
//     and every later call is answered here with that error, unsent. An
//     answer that breaks off, or a relay that cannot be reached, ends the
//     same way: grok's client would retry the 502 a plain proxy gives.
//
// Invariant: no answer with a tool call reaches grok, and no model call
// leaves the guard with a tool field in it. Like the relay it listens on
// 127.0.0.1 only, under a random path prefix only grok is told.
type toolGuard struct {
	// URL is "http://127.0.0.1:<port>/<token>", standing for the relay's URL.
	URL string

	prefix string
	srv    *http.Server
	proxy  *httputil.ReverseProxy

	mu      sync.Mutex
	code    sdk.ErrorCode // review_failed for a refused answer, else provider_unavailable
	refusal string        // why the guard stopped grok; "" until it did
}

// toolFields are the request fields that offer the model a tool, in the
// current and the legacy OpenAI chat completions API.
var toolFields = []string{"tools", "tool_choice", "parallel_tool_calls", "functions", "function_call"}

// startToolGuard starts a guard in front of upstream (the relay's URL).
func startToolGuard(upstream string) (*toolGuard, error) {
	u, err := url.Parse(upstream)
	if err != nil {
		return nil, err
	}
	var tok [16]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("cannot listen on 127.0.0.1: %w", err)
	}
	g := &toolGuard{prefix: "/" + hex.EncodeToString(tok[:])}
	g.URL = "http://" + ln.Addr().String() + g.prefix
	g.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Path = strings.TrimPrefix(pr.Out.URL.Path, g.prefix)
			pr.Out.URL.RawPath = ""
			pr.SetURL(u)
			// Without grok's Accept-Encoding the transport asks for gzip
			// itself and hands inspect the decoded answer.
			pr.Out.Header.Del("Accept-Encoding")
		},
		ModifyResponse: g.inspect,
		ErrorHandler:   g.broken,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	g.srv = &http.Server{Handler: http.HandlerFunc(g.serve), ReadHeaderTimeout: 30 * time.Second}
	go g.srv.Serve(ln)
	return g, nil
}

// Close stops the guard and drops its connections.
func (g *toolGuard) Close() { g.srv.Close() }

// Refusal is why the guard stopped grok, or "" when it did not.
func (g *toolGuard) Refusal() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.refusal
}

// Err is the review's error when the guard stopped grok, else nil.
func (g *toolGuard) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case g.refusal == "":
		return nil
	case g.code == sdk.CodeProviderUnavailable:
		return sdk.Errorf(g.code, "grok's API did not answer whole (%s); retry later", g.refusal)
	default:
		return sdk.Errorf(g.code, "relay-host's tool guard stopped grok's model call (%s); grok runs without tools here, so nothing ran; retry", g.refusal)
	}
}

func (g *toolGuard) serve(w http.ResponseWriter, req *http.Request) {
	if req.URL.Path != g.prefix && !strings.HasPrefix(req.URL.Path, g.prefix+"/") {
		http.NotFound(w, req)
		return
	}
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		g.proxy.ServeHTTP(w, req) // no body, no source: a probe
		return
	}
	if reason := g.Refusal(); reason != "" {
		io.Copy(io.Discard, io.LimitReader(req.Body, 64<<20))
		writeRefusal(w, reason)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, 64<<20))
	if err == nil {
		body, err = withoutTools(body)
	}
	if err != nil {
		g.refuse(sdk.CodeReviewFailed, "grok sent a model call that is not a JSON object")
		writeRefusal(w, g.Refusal())
		return
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.Header.Del("Content-Length")
	g.proxy.ServeHTTP(w, req)
}

// withoutTools is a chat completions request with nothing that offers the
// model a tool, and x.ai's live search off.
func withoutTools(body []byte) ([]byte, error) {
	var call map[string]json.RawMessage
	if err := json.Unmarshal(body, &call); err != nil || call == nil {
		return nil, errors.New("not a JSON object")
	}
	for _, f := range toolFields {
		delete(call, f)
	}
	call["search_parameters"] = json.RawMessage(`{"mode":"off"}`)
	return json.Marshal(call)
}

// inspect lets an error answer through as it is (grok's client throws on
// it and runs nothing) and a success only when it calls no tool.
func (g *toolGuard) inspect(res *http.Response) error {
	if res.Request.Method == http.MethodGet || res.Request.Method == http.MethodHead || res.StatusCode >= 400 {
		return nil
	}
	reason := ""
	switch {
	case res.StatusCode < 200 || res.StatusCode >= 300:
		reason = fmt.Sprintf("the API answered HTTP %d, which grok's client would follow with the source", res.StatusCode)
	case res.Header.Get("Content-Encoding") != "" && !strings.EqualFold(res.Header.Get("Content-Encoding"), "identity"):
		reason = "the API's answer is encoded (" + res.Header.Get("Content-Encoding") + ") and cannot be checked for tool calls"
	}
	var body []byte
	if reason == "" {
		var err error
		body, err = io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
		switch {
		case err != nil:
			return err // broken answers grok
		case len(body) > maxAnswer:
			reason = "the API's answer is over 16 MiB"
		default:
			reason = toolCall(body)
		}
	}
	res.Body.Close()
	if reason != "" {
		g.refuse(sdk.CodeReviewFailed, reason)
		reason = g.Refusal()
		body = refusalBody(reason)
		res.StatusCode, res.Status = http.StatusBadGateway, "502 Bad Gateway"
		res.Header = refusalHeader()
	}
	res.Body = io.NopCloser(bytes.NewReader(body))
	res.ContentLength = int64(len(body))
	res.Header.Del("Content-Length")
	res.Header.Del("Transfer-Encoding")
	return nil
}

// toolCall says why answer must not reach grok: it calls a tool (grok acts
// on choices[i].message.tool_calls), or it is JSON grok reads differently
// than Go would decode it, so a tool call in it cannot be ruled out.
// "" is an answer without tool calls, or one that is not JSON at all
// (grok's client fails on it).
func toolCall(answer []byte) string {
	if !json.Valid(answer) {
		return ""
	}
	var a struct {
		Choices []struct {
			Message struct {
				ToolCalls    json.RawMessage `json:"tool_calls"`
				FunctionCall json.RawMessage `json:"function_call"`
			} `json:"message"`
		} `json:"choices"`
	}
	if err := json.Unmarshal(answer, &a); err != nil {
		return "the API's answer is not a chat completion"
	}
	for _, c := range a.Choices {
		if !present(c.Message.ToolCalls) && !present(c.Message.FunctionCall) {
			continue
		}
		var calls []struct {
			Function struct {
				Name string `json:"name"`
			} `json:"function"`
		}
		json.Unmarshal(c.Message.ToolCalls, &calls)
		var names []string
		for _, tc := range calls {
			if tc.Function.Name != "" {
				names = append(names, tc.Function.Name)
			}
		}
		if len(names) == 0 {
			return "the model called a tool"
		}
		return "the model called grok's tool " + strings.Join(names, ", ")
	}
	return ""
}

// present: a field that is there and neither null nor an empty list.
func present(raw json.RawMessage) bool {
	s := string(bytes.TrimSpace(raw))
	return s != "" && s != "null" && s != "[]"
}

// broken answers a call whose answer did not arrive whole, or that never
// reached the relay, and stops grok there: the source may have arrived.
func (g *toolGuard) broken(w http.ResponseWriter, req *http.Request, err error) {
	reason := "the answer broke off or the relay was unreachable"
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		g.refuse(sdk.CodeProviderUnavailable, reason)
		reason = g.Refusal()
	}
	writeRefusal(w, reason)
}

// refuse stops grok: the first reason stands, and every later call gets it.
func (g *toolGuard) refuse(code sdk.ErrorCode, reason string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.refusal == "" {
		g.code, g.refusal = code, reason
	}
}

func refusalHeader() http.Header {
	return http.Header{"Content-Type": {"application/json"}, "X-Should-Retry": {"false"}}
}

func refusalBody(reason string) []byte {
	b, _ := json.Marshal(map[string]any{"error": map[string]any{"type": "relay_host_refused", "message": "relay-host refused the answer: " + reason}})
	return b
}

func writeRefusal(w http.ResponseWriter, reason string) {
	for k, v := range refusalHeader() {
		w.Header()[k] = v
	}
	w.WriteHeader(http.StatusBadGateway)
	w.Write(refusalBody(reason))
}
