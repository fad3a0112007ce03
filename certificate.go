package aicc

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"time"
)

// MaxCertificatePEMSize bounds an uploaded certificate file.
const MaxCertificatePEMSize = 64 << 10

// Certificate is the Facebook authentication certificate uploaded by the sysadmin (a system-wide resource):
// the Graph API client trusts it.
type Certificate struct {
	ID        string
	Subject   string // of the first certificate in the PEM
	Issuer    string
	NotBefore time.Time
	NotAfter  time.Time // the earliest expiry of the certificates in the PEM
	SHA256    string    // fingerprint of the first certificate's DER, hex
	PEM       string
	CreatedAt time.Time
}

// Expired reports whether the certificate has expired at now.
func (c *Certificate) Expired(now time.Time) bool { return !now.Before(c.NotAfter) }

// CheckCertificates returns nil when one of certs is valid at now, else an ECERTMISSING or ECERTEXPIRED error
// telling the sysadmin what to upload.
func CheckCertificates(certs []*Certificate, now time.Time) error {
	var latest time.Time
	for _, c := range certs {
		if !c.Expired(now) && !now.Before(c.NotBefore) {
			return nil
		}
		if c.NotAfter.After(latest) {
			latest = c.NotAfter
		}
	}
	if latest.IsZero() {
		return Errorf(ECERTMISSING, "No Facebook authentication certificate is uploaded; a sysadmin must upload one.")
	}
	return Errorf(ECERTEXPIRED, "The Facebook authentication certificate expired on %s; a sysadmin must upload a new one.",
		latest.UTC().Format(time.RFC3339))
}

// ParseCertificatePEM parses one or more PEM-encoded X.509 certificates. It rejects anything else in the
// file (keys, garbage), certificates that do not parse, and a chain that has expired or is not valid yet at now.
func ParseCertificatePEM(data []byte, now time.Time) (*Certificate, error) {
	invalid := func(msg string) error {
		return &Error{Code: EINVALID, Message: "The certificate is not valid.", Fields: map[string]string{"pem": msg}}
	}
	if len(data) > MaxCertificatePEMSize {
		return nil, invalid("is larger than 64 KiB")
	}
	var certs []*x509.Certificate
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, invalid("is not PEM: expected -----BEGIN CERTIFICATE----- blocks")
		}
		if block.Type != "CERTIFICATE" {
			return nil, invalid("holds a " + block.Type + " block; upload certificates only")
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, invalid("holds a certificate that does not parse as X.509")
		}
		certs = append(certs, cert)
		rest = bytes.TrimSpace(rest)
	}
	if len(certs) == 0 {
		return nil, invalid("is required")
	}
	leaf := certs[0]
	c := &Certificate{
		Subject:   leaf.Subject.String(),
		Issuer:    leaf.Issuer.String(),
		NotBefore: leaf.NotBefore,
		NotAfter:  leaf.NotAfter,
		PEM:       string(data),
	}
	for _, cert := range certs[1:] {
		if cert.NotAfter.Before(c.NotAfter) {
			c.NotAfter = cert.NotAfter
		}
		if cert.NotBefore.After(c.NotBefore) {
			c.NotBefore = cert.NotBefore
		}
	}
	sum := sha256.Sum256(leaf.Raw)
	c.SHA256 = hex.EncodeToString(sum[:])
	switch {
	case c.Expired(now):
		return nil, invalid("expired on " + c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return nil, invalid("is not valid before " + c.NotBefore.UTC().Format(time.RFC3339))
	}
	return c, nil
}
