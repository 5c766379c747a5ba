package sdk

import (
	"context"
	"time"
)

// SettingHold is the reserved setting that makes a review last, so that a
// conformance check (`relay-host plugin check`, [conformance.Check]) can
// cancel it mid-flight whatever the provider does. Its value is a Go
// duration. [Serve] honours it for every provider, without the provider's
// code: it holds a finished review's result for that long, at most
// [MaxHold], or until the call is cancelled, which then ends the call as
// cancelled. A plugin written without this SDK honours it the same way.
// relay-host never sends it on a real review: relay.hcl refuses every
// "relay." setting.
//
// [conformance.Check]: https://pkg.go.dev/github.com/relay-host/relay-host/sdk/conformance#Check
const SettingHold = "relay.hold"

// MaxHold bounds [SettingHold].
const MaxHold = 5 * time.Minute

// hold waits as SettingHold asks; it returns ctx's error when the call was
// cancelled first.
func hold(ctx context.Context, settings map[string]string) error {
	v, ok := settings[SettingHold]
	if !ok {
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return nil
	}
	t := time.NewTimer(min(d, MaxHold))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
