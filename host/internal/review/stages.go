package review

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"github.com/relay-host/relay-host/host/internal/exitcode"
	"os"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/relay-host/relay-host/admission"
	etcdadm "github.com/relay-host/relay-host/admission/etcd"
	"github.com/relay-host/relay-host/host/config"
	"github.com/relay-host/relay-host/host/internal/blocked"
	"github.com/relay-host/relay-host/host/internal/pluginhost"
	"github.com/relay-host/relay-host/host/internal/route"
	"github.com/relay-host/relay-host/host/jobs"
	"github.com/relay-host/relay-host/host/packet"
	"github.com/relay-host/relay-host/sdk"
)

func packetError(err error) *Error {
	var pe *packet.Error
	if errors.As(err, &pe) {
		return errorf(pe.Code, exitcode.Usage, "%s", pe.Msg)
	}
	return errorf(packet.CodeGitFailed, exitcode.Usage, "%v", err)
}

// cancelled records a review stopped by the user (signal or cancel <id>).
func (r *run) cancelled(ctx context.Context, tr jobs.Transmission) *Error {
	e := errorf(string(sdk.CodeCancelled), exitcode.Provider, "review cancelled (%s)", cause(ctx))
	r.finish(jobs.StatusCancelled, e.Code, e.Msg, tr)
	return e
}

// errAdmissionLost is the cancellation cause when a held lease is lost.
var errAdmissionLost = errors.New("the admission lease was lost")

// admissionLost records a review stopped because its lease ended while it
// held the slot (etcd keep-alive failed or the lease was revoked).
//
// Exit 75, not 3: nothing is wrong with the plugin or the provider; the
// admission backend withdrew the slot, which is the same class of temporary,
// retry-later failure as backend_unavailable (fail closed). A retry is still
// guarded: the record says sent or may_be_sent, so the resend guard asks for
// confirmation before the same source goes out again.
func (r *run) admissionLost(tr jobs.Transmission) *Error {
	e := errorf(CodeAdmissionLost, exitcode.Blocked, "%s/%s: the admission slot was lost while the review ran (etcd lease expired or revoked); the review was stopped and the source %s; retry once the etcd cluster is healthy",
		r.rec.Provider, r.rec.Route, map[bool]string{true: "was sent", false: "may have been sent"}[tr == jobs.Sent])
	r.finish(jobs.StatusFailed, e.Code, e.Msg, tr)
	return e
}

func cause(ctx context.Context) string {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) {
		return c.Error()
	}
	return "interrupted"
}

// OpenEtcd opens the etcd backend relay.hcl configures.
func OpenEtcd(cfg *config.Config, getenv func(string) string, log admission.Logger) (*etcdadm.Backend, error) {
	opts, err := EtcdOptions(cfg.Admission, getenv)
	if err != nil {
		return nil, err
	}
	return etcdadm.Open(cfg.Admission.Endpoints, append(opts, etcdadm.WithLogger(log))...)
}

// EtcdOptions turns relay.hcl's admission block into etcd backend options:
// prefix and TTL (defaults when unset), TLS from ca_file / cert_file /
// key_file, and a username whose password is read from the variable
// password_env names.
func EtcdOptions(a config.Admission, getenv func(string) string) ([]etcdadm.Option, error) {
	prefix, ttl := a.Prefix, a.TTL
	if prefix == "" {
		prefix = etcdadm.DefaultPrefix
	}
	if ttl <= 0 {
		ttl = etcdadm.DefaultTTL
	}
	opts := []etcdadm.Option{etcdadm.WithPrefix(prefix), etcdadm.WithTTL(ttl)}
	if a.CAFile != "" || a.CertFile != "" {
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if a.CAFile != "" {
			pem, err := os.ReadFile(a.CAFile)
			if err != nil {
				return nil, fmt.Errorf("etcd ca_file: %w", err)
			}
			tc.RootCAs = x509.NewCertPool()
			if !tc.RootCAs.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("etcd ca_file %s holds no PEM certificate", a.CAFile)
			}
		}
		if a.CertFile != "" {
			cert, err := tls.LoadX509KeyPair(a.CertFile, a.KeyFile)
			if err != nil {
				return nil, fmt.Errorf("etcd cert_file/key_file: %w", err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		opts = append(opts, etcdadm.WithTLS(tc))
	}
	if a.Username != "" {
		pw := getenv(a.PasswordEnv)
		if pw == "" {
			return nil, fmt.Errorf("etcd password_env %s is empty or unset: export it for relay-host", a.PasswordEnv)
		}
		opts = append(opts, etcdadm.WithAuth(a.Username, pw))
	}
	return opts, nil
}

func (r *run) acquire(ctx context.Context, provider string, rt route.Route) (admission.Lease, error) {
	cfg := r.o.Config
	res := rt.Admission
	var backend admission.Backend
	var err error
	if rt.Backend == route.BackendEtcd {
		// The client lives as long as the process: the lease's keep-alive
		// runs on it.
		backend, err = OpenEtcd(cfg, r.o.Getenv, r.log)
		if err != nil {
			return nil, r.fail(errorf(string(sdk.CodeConfigInvalid), exitcode.Usage, "admission backend etcd: %s: fix admission.endpoints in %s", r.o.Logs.Scrubber.Message(err.Error()), cfgName(cfg)))
		}
	} else {
		backend, err = admission.OpenLocal(res.LockRoot, admission.Options{
			GateTimeout: admission.GateTimeoutFromEnv(r.o.Getenv),
			Logger:      r.log,
		})
	}
	if err != nil {
		// A RootError names the lock root and its fix: print it, but keep
		// the path out of the record.
		e := r.fail(errorf(CodeAdmissionFailed, exitcode.Usage, "the admission lock root is unusable: run `relay-host admission status` for details"))
		e.Msg = err.Error()
		return nil, e
	}
	// The backend's descriptors belong to the lease; closing the backend
	// would close them, so it lives as long as the process.
	wait := cfg.Admission.Wait
	if r.o.WaitSet {
		wait = r.o.Wait
	}
	if wait > 0 {
		r.o.Status(waitLabel(ctx, backend, res.Key, r.o.IgnoreCooldown))
	}
	r.cool = cooldownKey{backend: backend, key: res.Key}
	lease, err := backend.Acquire(ctx, admission.Request{Key: res.Key, Limit: res.Limit, Wait: wait, MaxTotal: cfg.Admission.MaxTotal, IgnoreCooldown: r.o.IgnoreCooldown})
	if err == nil {
		// Before the Review call: the plugin holds the slot's lock too, so
		// a SIGKILLed host's slot stays held until the plugin has killed
		// its CLIs' process groups and its own and died.
		if err := r.session.Plugin.ShareLease(lease.Files()); pluginhost.NoLeaseChannel(err) {
			r.log.Debug("the plugin does not hold the admission lock; its process groups are killed before release")
		} else if err != nil {
			r.log.Warn("the plugin could not take the admission lock; its process groups are killed before release", "error", err)
		}
		return lease, nil
	}
	if b, ok := admission.IsBlocked(err); ok {
		r.rec.Diagnostics.ProviderWorkload = &jobs.Workload{
			Reason:   string(b.Reason),
			Capacity: jobs.Capacity{ActiveCount: b.Capacity.ActiveCount, Limit: b.Capacity.Limit},
			Cooldown: string(b.Cooldown), RetryAfterS: b.RetryAfterS,
		}
		return nil, r.fail(errorf(CodeWorkloadBlocked, exitcode.Blocked, "%s", blocked.Review(provider, rt.Name, wait, b)))
	}
	if ctx.Err() != nil {
		return nil, r.cancelled(ctx, jobs.NotSent)
	}
	return nil, r.fail(errorf(CodeAdmissionFailed, exitcode.Usage, "admission failed: %s", r.o.Logs.Scrubber.Message(err.Error())))
}

// review runs the Review call with the record's transmission kept true at
// every instant.
func (r *run) review(ctx context.Context, req sdk.ReviewRequest) error {
	r.rec.Status, r.rec.Transmission = jobs.StatusRunning, jobs.MayBeSent
	r.reserve()
	if err := r.put(); err != nil {
		var e *Error
		errors.As(err, &e) // put fails only with an *Error
		return r.fail(e)   // nothing was sent: the call has not started
	}
	r.o.Status("reviewing")
	rctx, cancel := context.WithTimeout(ctx, req.Timeout)
	defer cancel()
	transmitted := false
	res, err := r.session.Plugin.Review(rctx, req, func(e sdk.Event) {
		switch e.Kind {
		case sdk.EventTransmission:
			transmitted = true
			r.rec.Transmission = jobs.Sent
			if err := r.put(); err != nil {
				r.log.Error("cannot record the transmission", "error", err)
			}
		case sdk.EventProgress:
			r.log.Debug("progress", "message", r.o.Logs.Scrubber.Message(e.Message))
		}
	})
	sc := r.o.Logs.Scrubber
	tr := jobs.MayBeSent
	if transmitted {
		tr = jobs.Sent
	}
	if err == nil {
		r.rec.Review = sc.Review(res.Review)
		r.rec.Model = sc.Field(res.Model)
		r.rec.Verdict = packet.ParseVerdict(r.rec.Review)
		// A review came back, so the source left, whatever events arrived.
		r.finish(jobs.StatusCompleted, "", "", jobs.Sent)
		return nil
	}
	// Stop a failed plugin at once: a crashed or hung one gets no grace.
	r.session.KillNow()
	switch {
	case errors.Is(context.Cause(ctx), errAdmissionLost):
		return r.admissionLost(tr)
	case ctx.Err() != nil:
		return r.cancelled(ctx, tr)
	case rctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || status.Code(errors.Unwrap(err)) == codes.DeadlineExceeded:
		// The plugin's side of the deadline can fire a hair before ours.
		e := errorf(string(sdk.CodeTimeout), exitcode.Provider, "the review did not finish within %s: raise timeout for the route in relay.hcl or pass --timeout", req.Timeout)
		r.finish(jobs.StatusFailed, e.Code, e.Msg, tr)
		return e
	}
	var se *sdk.Error
	if errors.As(err, &se) {
		// A plugin's error code is only ever one the sdk defines; the
		// client maps any other to internal, and the host does again.
		code := se.Code
		if !code.Known() {
			code = sdk.CodeInternal
		}
		// The client already checked NotSent against the pre-send codes
		// and the events it saw; the host checks again.
		if se.NotSent && sdk.PreSend(code) && !transmitted {
			tr = jobs.NotSent
		}
		msg := sc.Message(se.Message)
		if msg == "" {
			msg = "no details"
		}
		r.rec.Diagnostics.RetryAfterS = retryAfterSeconds(se.RetryAfter)
		e := errorf(string(code), exitcode.Provider, "%s/%s failed (%s): %s", r.rec.Provider, r.rec.Route, code, msg)
		r.finish(jobs.StatusFailed, e.Code, msg, tr)
		e.Msg += r.coolDown(code, se.RetryAfter)
		return e
	}
	sent := map[bool]string{true: "was sent", false: "may have been sent"}[transmitted]
	code, msg := CodePluginCrashed, fmt.Sprintf("the plugin exited or dropped the connection during the review; the source %s", sent)
	if st, ok := status.FromError(errors.Unwrap(err)); ok && st.Code() != codes.Unavailable && st.Code() != codes.Canceled {
		// The connection is up but the call failed: a message the plugin
		// could not encode or the host could not decode.
		code, msg = CodePluginProtocol, fmt.Sprintf("the plugin broke the protocol (%s); the source %s; run `relay-host plugin check` on it", sc.Message(st.Message()), sent)
	}
	r.log.Debug("review call failed", "error", sc.Message(err.Error()))
	e := errorf(code, exitcode.Provider, "%s/%s failed: %s", r.rec.Provider, r.rec.Route, msg)
	r.finish(jobs.StatusFailed, code, msg, tr)
	return e
}

// retryAfterSeconds is a plugin's retry-after as the record holds it: whole
// seconds, rounded up, 0 (absent) for none or a negative value, capped at
// sdk.MaxRetryAfter. The client bounded it already; the host does again,
// as it does for everything a plugin returns.
func retryAfterSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	d = min(d, sdk.MaxRetryAfter)
	return int64((d + time.Second - 1) / time.Second)
}
