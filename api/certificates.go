package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

// certificateJSON shows a system certificate without its PEM: the subject, the validity and the fingerprint
// are what an operator checks.
type certificateJSON struct {
	ID        string    `json:"id"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	NotBefore time.Time `json:"notBefore"`
	NotAfter  time.Time `json:"notAfter"`
	SHA256    string    `json:"sha256"`
	Expired   bool      `json:"expired"`
	// ExpiresInSeconds is the time left until NotAfter, negative once the certificate has expired.
	ExpiresInSeconds int64     `json:"expiresInSeconds"`
	CreatedAt        time.Time `json:"createdAt"`
}

func toCertificateJSON(cert *aicc.Certificate, now time.Time) certificateJSON {
	return certificateJSON{
		ID: cert.ID, Subject: cert.Subject, Issuer: cert.Issuer,
		NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(),
		SHA256: cert.SHA256, Expired: cert.Expired(now), ExpiresInSeconds: int64(cert.NotAfter.Sub(now) / time.Second),
		CreatedAt: cert.CreatedAt.UTC(),
	}
}

func (s *Server) addCertificate(c *gin.Context) error {
	var req struct {
		PEM string `json:"pem"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	now := s.now()
	cert, err := aicc.ParseCertificatePEM([]byte(req.PEM), now)
	if err != nil {
		return err
	}
	cert.ID, cert.CreatedAt = aicc.NewID(aicc.PrefixCert), now
	entry := s.audit(c, aicc.AuditCertificateUpload, aicc.AuditTarget{Type: aicc.TargetCertificate, ID: cert.ID}, "",
		map[string]string{
			aicc.DetailCertificateSubject: cert.Subject, aicc.DetailCertificateSHA256: cert.SHA256,
			aicc.DetailCertificateNotAfter: cert.NotAfter.UTC().Format(time.RFC3339),
		})
	if err := s.audited(c, entry, func(ctx context.Context) error { return s.Store.AddCertificate(ctx, cert) }); err != nil {
		return err
	}
	s.log(c).Info("certificate added", "certificate_id", cert.ID, "not_after", cert.NotAfter)
	c.JSON(http.StatusCreated, toCertificateJSON(cert, now))
	return nil
}

func (s *Server) listCertificates(c *gin.Context) error {
	certs, err := s.Store.ListCertificates(c.Request.Context())
	if err != nil {
		return err
	}
	now := s.now()
	c.JSON(http.StatusOK, listOf(certs, "", func(cert *aicc.Certificate) certificateJSON {
		return toCertificateJSON(cert, now)
	}))
	return nil
}
