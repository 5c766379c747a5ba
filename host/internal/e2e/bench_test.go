package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/relay-host/relay-host/host/internal/pluginhost"
)

// benchEnv is a small repository with one changed file and the echo
// provider configured.
func benchEnv(b *testing.B) *env {
	e := newEnv(b)
	e.config("provider \"echo\" {}\n")
	return e
}

// BenchmarkReviewEcho is a whole `relay-host review echo` process (front
// binary exec'ing relay-host-core, config, git packet, plugin launch,
// admission, Review, record) on a small repository. It reports the median
// wall time and the peak RSS of the process (the larger of relay-host-core
// and the plugin it waited for, as wait4 reports it).
func BenchmarkReviewEcho(b *testing.B) {
	e := benchEnv(b)
	var walls []time.Duration
	var rss int64
	for b.Loop() {
		cmd := exec.Command(filepath.Join(binDir, "relay-host"), "review", "echo")
		cmd.Dir, cmd.Env = e.repo, e.environ()
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		walls = append(walls, time.Since(start))
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			rss = max(rss, ru.Maxrss)
		}
	}
	b.ReportMetric(float64(median(walls).Microseconds())/1000, "median-ms")
	b.ReportMetric(float64(rss), "maxrss-KiB")
}

// BenchmarkFanoutEcho3 is BenchmarkReviewEcho with three instant
// reviewers (the echo plugin under three names) in one `relay-host review
// echo,echo2,echo3`: the packet is built once and the three plugin launches
// overlap, so it should cost little more than one review (issue 13 asks
// ≤ 1.3×; compare the two median-ms in one run).
func BenchmarkFanoutEcho3(b *testing.B) {
	e := newEnv(b)
	e.config("provider \"echo\" {}\nprovider \"echo2\" {\n  plugin = \"relay-provider-echo\"\n}\nprovider \"echo3\" {\n  plugin = \"relay-provider-echo\"\n}\n")
	var walls []time.Duration
	for b.Loop() {
		cmd := exec.Command(filepath.Join(binDir, "relay-host"), "review", "echo,echo2,echo3")
		cmd.Dir, cmd.Env = e.repo, e.environ()
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v\n%s", err, out)
		}
		walls = append(walls, time.Since(start))
	}
	b.ReportMetric(float64(median(walls).Microseconds())/1000, "median-ms")
}

// BenchmarkLaunchFloor is the floor under BenchmarkReviewEcho: go-plugin
// launch of the echo plugin, one Describe, kill, in-process.
func BenchmarkLaunchFloor(b *testing.B) {
	var walls []time.Duration
	for b.Loop() {
		start := time.Now()
		p, err := pluginhost.Launch(pluginhost.Options{Provider: "echo", Path: filepath.Join(binDir, "relay-provider-echo"),
			Env: []string{"PATH=/usr/bin:/bin"}, Logger: hclog.NewNullLogger()})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := p.Provider.Describe(context.Background()); err != nil {
			b.Fatal(err)
		}
		p.Kill()
		walls = append(walls, time.Since(start))
	}
	b.ReportMetric(float64(median(walls).Microseconds())/1000, "median-ms")
}

func median(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}
