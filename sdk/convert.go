package sdk

import (
	"fmt"
	"maps"
	"math"
	"time"

	"github.com/relay-host/relay-host/sdk/internal/relayv1"
)

// This file is the only place that maps between the hand-written types and
// the generated ones, so a .proto change touches one file.

func descriptionToProto(d Description) *relayv1.DescribeResponse {
	out := &relayv1.DescribeResponse{
		PluginName:    d.Name,
		PluginVersion: d.Version,
		SdkVersion:    d.SDKVersion,
	}
	for _, r := range d.Routes {
		pr := &relayv1.Route{Name: r.Name, PacketBudgetBytes: r.Budget}
		switch r.Fact.Kind {
		case FactSharedState:
			ss := &relayv1.SharedState{}
			if r.Fact.Directory != "" {
				ss.Key = &relayv1.SharedState_Directory{Directory: r.Fact.Directory}
			} else {
				ss.Key = &relayv1.SharedState_Identity{Identity: r.Fact.Identity}
			}
			pr.Fact = &relayv1.Route_SharedState{SharedState: ss}
		case FactStateless:
			pr.Fact = &relayv1.Route_Stateless{Stateless: &relayv1.Stateless{
				DefaultLimit: int64(r.Fact.DefaultLimit),
				EnvCapVar:    r.Fact.EnvCapVar,
			}}
		}
		out.Routes = append(out.Routes, pr)
	}
	return out
}

// descriptionFromProto converts and validates; the host must never act on a
// fact it has not validated.
func descriptionFromProto(p *relayv1.DescribeResponse) (Description, error) {
	d := Description{
		Name:       p.GetPluginName(),
		Version:    p.GetPluginVersion(),
		SDKVersion: p.GetSdkVersion(),
	}
	if len(p.GetRoutes()) > maxRoutes {
		return Description{}, fmt.Errorf("plugin describes %d routes, more than %d", len(p.GetRoutes()), maxRoutes)
	}
	for _, pr := range p.GetRoutes() {
		r := Route{Name: pr.GetName(), Budget: pr.GetPacketBudgetBytes()}
		switch f := pr.GetFact().(type) {
		case *relayv1.Route_SharedState:
			switch k := f.SharedState.GetKey().(type) {
			case *relayv1.SharedState_Directory:
				r.Fact = SharedStateDir(k.Directory)
				if k.Directory == "" {
					return Description{}, fmt.Errorf("route %q: shared_state directory is empty", r.Name)
				}
			case *relayv1.SharedState_Identity:
				r.Fact = SharedStateIdentity(k.Identity)
				if k.Identity == "" {
					return Description{}, fmt.Errorf("route %q: shared_state identity is empty", r.Name)
				}
			default:
				return Description{}, fmt.Errorf("route %q: shared_state fact has neither a directory nor an identity; set exactly one", r.Name)
			}
		case *relayv1.Route_Stateless:
			limit := f.Stateless.GetDefaultLimit()
			if limit < 1 || limit > math.MaxInt32 {
				return Description{}, fmt.Errorf("route %q: stateless default limit %d must be between 1 and %d", r.Name, limit, math.MaxInt32)
			}
			r.Fact = Stateless(int(limit), f.Stateless.GetEnvCapVar())
		case nil:
			// Also what an unknown oneof member from a newer .proto decodes
			// to: refuse rather than guess a category.
			return Description{}, fmt.Errorf("route %q has no capability fact this host understands", r.Name)
		}
		d.Routes = append(d.Routes, r)
	}
	if err := d.Validate(); err != nil {
		return Description{}, err
	}
	return d, nil
}

func settingsToProto(s Settings) *relayv1.ConfigureRequest {
	out := &relayv1.ConfigureRequest{Settings: maps.Clone(s.Provider)}
	if len(s.Routes) > 0 {
		out.Routes = make(map[string]*relayv1.RouteSettings, len(s.Routes))
		for name, rs := range s.Routes {
			out.Routes[name] = &relayv1.RouteSettings{Settings: maps.Clone(rs)}
		}
	}
	return out
}

func settingsFromProto(p *relayv1.ConfigureRequest) Settings {
	s := Settings{Provider: p.GetSettings(), Routes: map[string]map[string]string{}}
	if s.Provider == nil {
		s.Provider = map[string]string{}
	}
	for name, rs := range p.GetRoutes() {
		m := rs.GetSettings()
		if m == nil {
			m = map[string]string{}
		}
		s.Routes[name] = m
	}
	return s
}

func attributeErrorsToProto(errs []AttributeError) *relayv1.ConfigureResponse {
	out := &relayv1.ConfigureResponse{}
	for _, e := range errs {
		out.Errors = append(out.Errors, &relayv1.AttributeError{Route: e.Route, Attribute: e.Attribute, Message: e.Message})
	}
	return out
}

func attributeErrorsFromProto(p *relayv1.ConfigureResponse) []AttributeError {
	var out []AttributeError
	for _, e := range p.GetErrors() {
		out = append(out, AttributeError{Route: e.GetRoute(), Attribute: e.GetAttribute(), Message: e.GetMessage()})
	}
	return out
}

func reviewRequestToProto(r ReviewRequest) *relayv1.ReviewRequest {
	return &relayv1.ReviewRequest{
		Route:     r.Route,
		Prompt:    r.Prompt,
		Packet:    r.Packet,
		Settings:  maps.Clone(r.Settings),
		TimeoutMs: r.Timeout.Milliseconds(),
	}
}

func reviewRequestFromProto(p *relayv1.ReviewRequest) ReviewRequest {
	settings := p.GetSettings()
	if settings == nil {
		settings = map[string]string{}
	}
	var timeout time.Duration
	if ms := p.GetTimeoutMs(); ms > 0 && ms < math.MaxInt64/int64(time.Millisecond) {
		timeout = time.Duration(ms) * time.Millisecond
	}
	return ReviewRequest{
		Route:    p.GetRoute(),
		Prompt:   p.GetPrompt(),
		Packet:   p.GetPacket(),
		Settings: settings,
		Timeout:  timeout,
	}
}

func resultToProto(r Result) *relayv1.Result {
	out := &relayv1.Result{Review: r.Review, Model: r.Model}
	if r.Usage != nil {
		out.Usage = &relayv1.Usage{InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens}
	}
	return out
}

func resultFromProto(p *relayv1.Result) Result {
	r := Result{Review: p.GetReview(), Model: p.GetModel()}
	if u := p.GetUsage(); u != nil {
		r.Usage = &Usage{InputTokens: u.GetInputTokens(), OutputTokens: u.GetOutputTokens()}
	}
	return r
}

// errorFromProto turns a terminal error event into an *Error, deciding the
// not-sent claim conservatively: only a pre-send code, an explicit NOT_SENT
// claim and no transmission event seen together mean "not sent".
func errorFromProto(p *relayv1.Error, transmitted bool) *Error {
	code := ErrorCode(p.GetCode())
	msg := p.GetMessage()
	if !code.Known() {
		// The code is untrusted text and goes into the message whole: the
		// host sanitizes the message, redacting before it cuts. (Not %q:
		// its escapes would spell a secret in a form redaction misses.)
		msg = `plugin sent unknown error code "` + string(code) + `": ` + msg
		code = CodeInternal
	}
	notSent := p.GetTransmission() == relayv1.TransmissionState_TRANSMISSION_STATE_NOT_SENT &&
		PreSend(code) && !transmitted
	return &Error{Code: code, Message: msg, NotSent: notSent, RetryAfter: retryAfterFromProto(p.GetRetryAfterS())}
}

// retryAfterFromProto trusts nothing of the plugin's number but its sign
// and size: a negative one is dropped, a huge one capped.
func retryAfterFromProto(s int64) time.Duration {
	if s <= 0 {
		return 0
	}
	if s >= int64(MaxRetryAfter/time.Second) {
		return MaxRetryAfter
	}
	return time.Duration(s) * time.Second
}

// errorToProto is the server-side counterpart of errorFromProto.
func errorToProto(e *Error, transmitted bool) *relayv1.Error {
	state := relayv1.TransmissionState_TRANSMISSION_STATE_MAY_BE_SENT
	switch {
	case transmitted:
		state = relayv1.TransmissionState_TRANSMISSION_STATE_SENT
	case e.NotSent && PreSend(e.Code):
		state = relayv1.TransmissionState_TRANSMISSION_STATE_NOT_SENT
	}
	return &relayv1.Error{Code: string(e.Code), Message: e.Message, Transmission: state,
		RetryAfterS: int64((clampRetryAfter(e.RetryAfter) + time.Second - 1) / time.Second)}
}
