package aicc_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
)

func selfSigned(t *testing.T, cn string, notBefore, notAfter time.Time) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestParseCertificatePEM(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	leaf := selfSigned(t, "graph.facebook.com", now.AddDate(-1, 0, 0), now.AddDate(1, 0, 0))
	ca := selfSigned(t, "Root CA", now.AddDate(-2, 0, 0), now.AddDate(0, 6, 0))

	c, err := aicc.ParseCertificatePEM(append(leaf, ca...), now)
	require.NoError(t, err)
	require.Equal(t, "CN=graph.facebook.com", c.Subject)
	require.Equal(t, now.AddDate(0, 6, 0), c.NotAfter, "the chain expires with its first certificate to expire")
	require.Len(t, c.SHA256, 64)
	require.False(t, c.Expired(now))
	require.True(t, c.Expired(now.AddDate(0, 6, 0)))

	key := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
	bad := map[string][]byte{
		"empty":       nil,
		"not pem":     []byte("hello"),
		"private key": append(leaf, key...),
		"garbage der": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}),
		"expired":     selfSigned(t, "old", now.AddDate(-2, 0, 0), now.AddDate(0, 0, -1)),
		"not yet":     selfSigned(t, "new", now.AddDate(0, 0, 1), now.AddDate(1, 0, 0)),
	}
	for name, data := range bad {
		_, err := aicc.ParseCertificatePEM(data, now)
		require.Contains(t, fieldErrors(t, err), "pem", name)
	}
}

func TestCheckCertificates(t *testing.T) {
	now := time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	valid := &aicc.Certificate{NotBefore: now.AddDate(-1, 0, 0), NotAfter: now.AddDate(1, 0, 0)}
	expired := &aicc.Certificate{NotBefore: now.AddDate(-2, 0, 0), NotAfter: now.AddDate(0, 0, -1)}

	require.Equal(t, aicc.ECERTMISSING, aicc.ErrorCode(aicc.CheckCertificates(nil, now)))
	err := aicc.CheckCertificates([]*aicc.Certificate{expired}, now)
	require.Equal(t, aicc.ECERTEXPIRED, aicc.ErrorCode(err))
	require.ErrorContains(t, err, "2026-11-24")
	require.NoError(t, aicc.CheckCertificates([]*aicc.Certificate{expired, valid}, now))
}
