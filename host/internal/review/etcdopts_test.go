package review

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relay-host/relay-host/host/config"
)

// writeCert writes a self-signed certificate and its key as PEM files.
func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	return certFile, keyFile
}

func TestEtcdOptions(t *testing.T) {
	dir := t.TempDir()
	cert, key := writeCert(t, dir)
	env := func(v map[string]string) func(string) string { return func(k string) string { return v[k] } }
	base := config.Admission{Backend: "etcd", Endpoints: []string{"127.0.0.1:1"}}

	opts, err := EtcdOptions(base, env(nil))
	if err != nil || len(opts) != 2 {
		t.Fatalf("defaults: %d options, %v; want prefix and ttl", len(opts), err)
	}
	full := base
	full.CAFile, full.CertFile, full.KeyFile = cert, cert, key
	full.Username, full.PasswordEnv = "relay", "RELAY_ETCD_PASSWORD"
	opts, err = EtcdOptions(full, env(map[string]string{"RELAY_ETCD_PASSWORD": "s3cret"}))
	if err != nil || len(opts) != 4 {
		t.Fatalf("tls + auth: %d options, %v; want prefix, ttl, tls, auth", len(opts), err)
	}
	for name, a := range map[string]config.Admission{
		"password variable unset": full,
		"missing ca file":         func() config.Admission { b := base; b.CAFile = filepath.Join(dir, "none.pem"); return b }(),
		"ca file without PEM": func() config.Admission {
			b := base
			b.CAFile = key + ".txt"
			os.WriteFile(b.CAFile, []byte("x"), 0o600)
			return b
		}(),
		"key that does not match": func() config.Admission { b := base; b.CertFile, b.KeyFile = cert, cert; return b }(),
	} {
		_, err := EtcdOptions(a, env(nil))
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), "s3cret") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: error %q must be one line without the password", name, err)
		}
	}
}
