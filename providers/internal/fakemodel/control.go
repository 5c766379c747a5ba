package fakemodel

import (
	"encoding/json"
	"net/http"
	"time"
)

// The control API lets a test in another process drive a fake started by
// the fakemodel command (cmd/fakemodel). It exists because Go's internal
// rule keeps this package out of host/internal/e2e, whose tests run the
// real relay-host and plugins against a fake they cannot import.
//
//	POST /_fakemodel/set            one Control object; absent fields are unchanged
//	GET  /_fakemodel/requests       []Request (JSON; Body is base64)
//	GET  /_fakemodel/max_in_flight  a number
//	GET  /_fakemodel/canned         {"GLMRateLimit": "<body>", …}
//
// Control requests are neither recorded nor counted in flight, and no
// fault applies to them.
const controlPrefix = "/_fakemodel/"

// Control is the body of POST /_fakemodel/set. Fields are applied in this
// order: Clear, then every other field that is present.
type Control struct {
	Clear      bool    `json:"clear,omitempty"`
	Reply      *string `json:"reply,omitempty"`
	ModelName  *string `json:"model_name,omitempty"`
	FailStatus int     `json:"fail_status,omitempty"`
	FailBody   string  `json:"fail_body,omitempty"`
	// FailNext > 0 fails that many requests (FailNext); 0 with FailStatus
	// set fails every request (FailWith).
	FailNext int `json:"fail_next,omitempty"`
	// FailHeaders are added to every failure answer (SetFailHeader).
	FailHeaders map[string]string `json:"fail_headers,omitempty"`
	DelayMS     *int64            `json:"delay_ms,omitempty"`
	KeepAlives  *int              `json:"keep_alives,omitempty"`
	Drop        *bool             `json:"drop,omitempty"`
	ReleaseAt   *int              `json:"release_at,omitempty"`
	Hold        bool              `json:"hold,omitempty"`
	// Release runs last.
	Release bool `json:"release,omitempty"`
}

// Canned maps each canned error body's Go name to the body.
var Canned = map[string]string{
	"AnthropicRateLimit": AnthropicRateLimit, "AnthropicAuth": AnthropicAuth,
	"GeminiRateLimit": GeminiRateLimit, "GeminiAuth": GeminiAuth,
	"OpenAIRateLimit": OpenAIRateLimit, "OpenAIAuth": OpenAIAuth,
	"DeepSeekInsufficientBalance": DeepSeekInsufficientBalance,
	"GLMRateLimit":                GLMRateLimit, "GLMNoBalance": GLMNoBalance,
}

// Apply applies c to s, as POST /_fakemodel/set does.
func (s *Server) Apply(c Control) {
	if c.Clear {
		s.Clear()
	}
	if c.Reply != nil {
		s.SetReply(*c.Reply)
	}
	if c.ModelName != nil {
		s.SetModelName(*c.ModelName)
	}
	switch {
	case c.FailStatus != 0 && c.FailNext > 0:
		s.FailNext(c.FailNext, c.FailStatus, c.FailBody)
	case c.FailStatus != 0:
		s.FailWith(c.FailStatus, c.FailBody)
	}
	for k, v := range c.FailHeaders {
		s.SetFailHeader(k, v)
	}
	if c.DelayMS != nil {
		s.SetDelay(time.Duration(*c.DelayMS) * time.Millisecond)
	}
	if c.KeepAlives != nil {
		s.SetKeepAlives(*c.KeepAlives)
	}
	if c.Drop != nil {
		s.SetDropConnection(*c.Drop)
	}
	if c.ReleaseAt != nil {
		s.SetReleaseAt(*c.ReleaseAt)
	}
	if c.Hold {
		s.Hold()
	}
	if c.Release {
		s.Release()
	}
}

func (s *Server) control(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path[len(controlPrefix):] {
	case "set":
		var c Control
		if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&c) != nil {
			http.Error(w, "POST a Control object", http.StatusBadRequest)
			return
		}
		s.Apply(c)
		w.WriteHeader(http.StatusNoContent)
	case "requests":
		writeJSON(w, http.StatusOK, s.Requests())
	case "max_in_flight":
		writeJSON(w, http.StatusOK, s.MaxInFlight())
	case "canned":
		writeJSON(w, http.StatusOK, Canned)
	default:
		http.NotFound(w, r)
	}
}
