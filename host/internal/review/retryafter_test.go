package review

import (
	"testing"
	"time"

	"github.com/relay-host/relay-host/sdk"
)

func TestRetryAfterSeconds(t *testing.T) {
	for _, tt := range []struct {
		d    time.Duration
		want int64
	}{
		{30 * time.Second, 30},
		{1200 * time.Millisecond, 2},
		{0, 0},
		{-time.Hour, 0},
		{1 << 62, int64(sdk.MaxRetryAfter / time.Second)},
	} {
		if got := retryAfterSeconds(tt.d); got != tt.want {
			t.Errorf("retryAfterSeconds(%v) = %d, want %d", tt.d, got, tt.want)
		}
	}
}
