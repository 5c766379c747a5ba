package findings

// baseFiles are the files testdata/change.diff applies to.
var baseFiles = map[string]string{
	"server/server.go": `package server

import (
	"net/http"
	"os"
)

// Config is the server's configuration.
type Config struct {
	Addr    string
	Token   string
	Timeout int
}

func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return parse(f)
}

func Handler(cfg *Config) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("ok"))
	})
	return mux
}

func Serve(cfg *Config) error {
	return http.ListenAndServe(cfg.Addr, Handler(cfg))
}
`,
	"docs and notes/notes.md": `# Notes

Some notes.
`,
}
