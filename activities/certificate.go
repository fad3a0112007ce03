package activities

import (
	"context"

	"github.com/aiccfb/aicc"
)

// CheckCertificate checks the prerequisite of every onboarding: a Facebook authentication certificate that is
// valid now. A missing or expired one is a non-retryable ApplicationError typed FACEBOOK_CERTIFICATE_MISSING or
// FACEBOOK_CERTIFICATE_EXPIRED, whose message tells the sysadmin what to upload; a database that does not answer
// is retried.
func (a *Activities) CheckCertificate(ctx context.Context) error {
	certs, err := a.Certificates.ListCertificates(ctx)
	if err != nil {
		return domainError(err)
	}
	if err := aicc.CheckCertificates(certs, a.Now()); err != nil {
		return NonRetryable(err)
	}
	return nil
}
