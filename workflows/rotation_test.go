package workflows_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/activities"
	"github.com/aiccfb/aicc/workflows"
)

// RotationSuite runs SecretRotation in virtual time against activities that behave like the store: an app
// secret change leaves every Page of the channel missing a new token, and a Page token change gives the Page
// one.
type RotationSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env *testsuite.TestWorkflowEnvironment

	mu       sync.Mutex
	calls    []rotationCall
	pages    []string           // the channel's Pages
	renewed  map[string]bool    // the Pages given a token since the app secret last changed
	failWith map[string][]error // the next errors of a call, by its name in calls
	updates  int                // Updates sent, for their IDs
}

func TestSecretRotation(t *testing.T) { suite.Run(t, new(RotationSuite)) }

// rotationCall is one activity call: its name (ChangePageToken as "ChangePageToken:pageID"), its input, and
// when it ran, as virtual time since the rotation started.
type rotationCall struct {
	name string
	in   any
	at   time.Duration
}

var (
	// rotationStart is when every rotation of these tests starts.
	rotationStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	rotationIn    = workflows.SecretRotationInput{TenantID: "ten_1", ChannelID: "ch_1"}
	admin         = aicc.AuditActor{Type: aicc.ActorToken, TokenID: "tok_admin", Role: aicc.RoleTenantAdmin}
)

// remindEvery is rotationIn with a reminder every interval.
func remindEvery(interval time.Duration) workflows.SecretRotationInput {
	in := rotationIn
	in.ReminderInterval = interval
	return in
}

// by is the requester of an API request.
func by(requestID string) workflows.Requester {
	return workflows.Requester{Actor: admin, RequestID: requestID}
}

// channelGone is the error of an activity on a channel that is being deleted (CHANNEL_DELETING) or is gone
// (NOT_FOUND).
func channelGone(code string) error {
	return temporal.NewNonRetryableApplicationError("The channel is gone.", code, nil)
}

func (s *RotationSuite) SetupTest() {
	s.calls, s.pages, s.renewed, s.failWith, s.updates = nil, nil, map[string]bool{}, map[string][]error{}, 0
	s.env = s.NewTestWorkflowEnvironment()
	s.env.SetStartTime(rotationStart)
	s.env.RegisterWorkflowWithOptions(workflows.SecretRotation, workflow.RegisterOptions{Name: workflows.SecretRotationWorkflowType})

	s.env.OnActivity(a.ChangeAppSecret, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ChangeAppSecretInput) error {
			if err := s.call("ChangeAppSecret", in); err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.renewed = map[string]bool{}
			return nil
		}).Maybe()
	s.env.OnActivity(a.ChangePageToken, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.ChangePageTokenInput) error {
			if err := s.call("ChangePageToken:"+in.PageID, in); err != nil {
				return err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			s.renewed[in.PageID] = true
			return nil
		}).Maybe()
	s.env.OnActivity(a.PagesWithoutNewToken, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RotationPagesInput) (activities.RotationPages, error) {
			s.Equal(activities.RotationPagesInput{ChannelID: "ch_1", Limit: workflows.MaxListedMissingPages}, in)
			if err := s.call("PagesWithoutNewToken", in); err != nil {
				return activities.RotationPages{}, err
			}
			s.mu.Lock()
			defer s.mu.Unlock()
			var missing activities.RotationPages
			for _, p := range s.pages {
				if !s.renewed[p] {
					missing.Missing++
					missing.IDs = append(missing.IDs, p)
				}
			}
			return missing, nil
		}).Maybe()
	s.env.OnActivity(a.RecordRotation, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RecordRotationInput) error {
			return s.call("RecordRotation", in)
		}).Maybe()
	s.env.OnActivity(a.RetirePreviousAppSecret, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RetirePreviousAppSecretInput) error {
			return s.call("RetirePreviousAppSecret", in)
		}).Maybe()
}

// call records an activity call and returns the next error queued for it, if any.
func (s *RotationSuite) call(name string, in any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls = append(s.calls, rotationCall{name: name, in: in, at: s.env.Now().Sub(rotationStart)})
	if errs := s.failWith[name]; len(errs) > 0 {
		s.failWith[name] = errs[1:]
		return errs[0]
	}
	return nil
}

// fail queues errors for the next calls of an activity.
func (s *RotationSuite) fail(name string, errs ...error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith[name] = errs
}

// setPages makes pages the channel's Pages.
func (s *RotationSuite) setPages(pages ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pages = pages
}

// names are the names of the calls made so far, in order.
func (s *RotationSuite) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, c := range s.calls {
		names = append(names, c.name)
	}
	return names
}

// named are the calls of one activity made so far, in order.
func (s *RotationSuite) named(name string) []rotationCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var got []rotationCall
	for _, c := range s.calls {
		if c.name == name {
			got = append(got, c)
		}
	}
	return got
}

// callsAt are the names of the calls made at virtual time at.
func (s *RotationSuite) callsAt(at time.Duration) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for _, c := range s.calls {
		if c.at == at {
			names = append(names, c.name)
		}
	}
	return names
}

// appSecretChanges are the inputs of ChangeAppSecret, in order.
func (s *RotationSuite) appSecretChanges() []activities.ChangeAppSecretInput {
	var got []activities.ChangeAppSecretInput
	for _, c := range s.named("ChangeAppSecret") {
		got = append(got, c.in.(activities.ChangeAppSecretInput))
	}
	return got
}

// records are the inputs of RecordRotation, in order.
func (s *RotationSuite) records() []activities.RecordRotationInput {
	var got []activities.RecordRotationInput
	for _, c := range s.named("RecordRotation") {
		got = append(got, c.in.(activities.RecordRotationInput))
	}
	return got
}

// reminders are the times of the RecordRotation calls that marked a reminder.
func (s *RotationSuite) reminders() []time.Duration {
	var got []time.Duration
	for _, c := range s.named("RecordRotation") {
		if c.in.(activities.RecordRotationInput).Remind {
			got = append(got, c.at)
		}
	}
	return got
}

// retirements are the calls of RetirePreviousAppSecret.
func (s *RotationSuite) retirements() []rotationCall { return s.named("RetirePreviousAppSecret") }

// statuses are the statuses RecordRotation wrote, in order.
func (s *RotationSuite) statuses() []aicc.RotationStatus {
	var got []aicc.RotationStatus
	for _, r := range s.records() {
		got = append(got, r.Rotation.Status)
	}
	return got
}

// at runs fn after d of virtual time.
func (s *RotationSuite) at(d time.Duration, fn func()) { s.env.RegisterDelayedCallback(fn, d) }

// rotationOutcome is what the caller of an Update saw.
type rotationOutcome struct {
	accepted, done bool
	rejected, err  error
	state          workflows.RotationState
}

// code is the domain code of the Update's rejection or failure, as the starters return it; "" when none.
func (o *rotationOutcome) code() string {
	if o.rejected != nil {
		return aicc.ErrorCode(workflows.DomainError(o.rejected))
	}
	return aicc.ErrorCode(workflows.DomainError(o.err))
}

// update sends an Update after at of virtual time and returns where its outcome will be.
func (s *RotationSuite) update(at time.Duration, name string, arg any) *rotationOutcome {
	out := new(rotationOutcome)
	s.at(at, func() {
		s.updates++
		s.env.UpdateWorkflow(name, fmt.Sprintf("%s-%d", name, s.updates), &testsuite.TestUpdateCallback{
			OnAccept: func() { out.accepted = true },
			OnReject: func(err error) { out.rejected = err },
			OnComplete: func(v any, err error) {
				out.done, out.err = true, err
				if st, ok := v.(workflows.RotationState); ok {
					out.state = st
				}
			},
		}, arg)
	})
	return out
}

// setAppSecret sends UpdateSetAppSecret with the version and overlap, as request "req-<version>".
func (s *RotationSuite) setAppSecret(at time.Duration, version string, overlap time.Duration) *rotationOutcome {
	return s.update(at, workflows.UpdateSetAppSecret,
		workflows.SetAppSecretRequest{VersionID: version, Overlap: overlap, Requester: by("req-" + version)})
}

// setPageToken sends UpdateSetPageToken with the Page and version, as request "req-<version>".
func (s *RotationSuite) setPageToken(at time.Duration, page, version string) *rotationOutcome {
	return s.update(at, workflows.UpdateSetPageToken,
		workflows.SetPageTokenRequest{PageID: page, VersionID: version, Requester: by("req-" + version)})
}

// revoke sends UpdateRevokePrevious as request requestID.
func (s *RotationSuite) revoke(at time.Duration, requestID string) *rotationOutcome {
	return s.update(at, workflows.UpdateRevokePrevious, workflows.RevokePreviousRequest{Requester: by(requestID)})
}

// queryAt queries the rotation's state after at of virtual time.
func (s *RotationSuite) queryAt(at time.Duration) *workflows.RotationState {
	st := new(workflows.RotationState)
	s.at(at, func() { *st = s.query() })
	return st
}

func (s *RotationSuite) query() workflows.RotationState {
	s.T().Helper()
	v, err := s.env.QueryWorkflow(workflows.QueryRotationState)
	s.Require().NoError(err)
	var st workflows.RotationState
	s.Require().NoError(v.Get(&st))
	return st
}

// run runs the rotation to its end and returns its result.
func (s *RotationSuite) run(in workflows.SecretRotationInput) workflows.RotationResult {
	s.T().Helper()
	return runToEnd[workflows.RotationResult](s.T(), s.env, workflows.SecretRotationWorkflowType, in)
}

// ended is when the rotation ended, as virtual time since it started.
func (s *RotationSuite) ended() time.Duration { return s.env.Now().Sub(rotationStart) }

// requireDone requires the Update to have been accepted and to have succeeded.
func (s *RotationSuite) requireDone(o *rotationOutcome) {
	s.T().Helper()
	s.Require().NoError(o.rejected)
	s.Require().True(o.accepted)
	s.Require().True(o.done)
	s.Require().NoError(o.err)
}

// The seed's two steps: the app secret, then a new token for every Page, completes the rotation; the previous
// secret stays accepted until the window is over, and the rotation ends then.
func (s *RotationSuite) TestAppSecretThenEveryPageToken() {
	s.setPages("p1", "p2")
	secret := s.setAppSecret(0, "sv_app", 24*time.Hour)
	p1 := s.setPageToken(time.Hour, "p1", "sv_p1")
	p2 := s.setPageToken(2*time.Hour, "p2", "sv_p2")
	midway := s.queryAt(12 * time.Hour)

	res := s.run(rotationIn)

	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(24*time.Hour, s.ended(), "the rotation runs until the window is over")
	s.Equal([]string{
		"ChangeAppSecret", "PagesWithoutNewToken", "RecordRotation",
		"ChangePageToken:p1", "PagesWithoutNewToken", "RecordRotation",
		"ChangePageToken:p2", "PagesWithoutNewToken", "RecordRotation",
		"RetirePreviousAppSecret", "RecordRotation",
	}, s.names())

	windowEnd := rotationStart.Add(24 * time.Hour)
	s.requireDone(secret)
	s.Equal(workflows.RotationState{
		Status: aicc.RotationPending, StartedAt: rotationStart, StartedBy: admin, PreviousUntil: windowEnd,
		PagesMissing: 2, MissingPageIDs: []string{"p1", "p2"},
	}, secret.state, "set-app-secret answers the state it recorded")
	s.Equal([]activities.ChangeAppSecretInput{{
		TenantID: "ten_1", ChannelID: "ch_1", VersionID: "sv_app", PreviousUntil: windowEnd, Requester: by("req-sv_app"),
	}}, s.appSecretChanges())

	s.requireDone(p1)
	s.Equal(aicc.RotationPending, p1.state.Status)
	s.Equal([]string{"p1"}, p1.state.PagesDone)
	s.Equal(1, p1.state.PagesMissing)
	s.Equal([]string{"p2"}, p1.state.MissingPageIDs)
	s.Equal(activities.ChangePageTokenInput{
		TenantID: "ten_1", ChannelID: "ch_1", PageID: "p1", VersionID: "sv_p1", Requester: by("req-sv_p1"),
	}, s.named("ChangePageToken:p1")[0].in)

	s.requireDone(p2)
	s.Equal(aicc.RotationComplete, p2.state.Status)
	s.Equal([]string{"p1", "p2"}, p2.state.PagesDone)
	s.Zero(p2.state.PagesMissing)
	s.Empty(p2.state.MissingPageIDs)
	s.Equal(windowEnd, p2.state.PreviousUntil, "complete, and the previous secret is still accepted")

	s.Equal(aicc.RotationComplete, midway.Status)
	s.Equal(windowEnd, midway.PreviousUntil)

	retired := s.retirements()
	s.Require().Len(retired, 1)
	s.Equal(24*time.Hour, retired[0].at, "retired exactly at the window's end")
	s.Equal(activities.RetirePreviousAppSecretInput{TenantID: "ten_1", ChannelID: "ch_1"}, retired[0].in, "Revoked is nil")

	s.Equal([]aicc.RotationStatus{aicc.RotationPending, aicc.RotationPending, aicc.RotationComplete, aicc.RotationComplete},
		s.statuses())
	records := s.records()
	for _, r := range records {
		s.Equal("ten_1", r.TenantID)
		s.Equal("ch_1", r.ChannelID)
		s.False(r.Remind)
		s.Equal(rotationStart, r.Rotation.StartedAt)
		s.Zero(r.Rotation.RemindedAt)
	}
	s.Equal(windowEnd, records[0].Rotation.PreviousUntil)
	s.Equal(2, records[0].Rotation.PagesMissing)
	s.Equal(1, records[1].Rotation.PagesMissing)
	s.Equal(0, records[2].Rotation.PagesMissing)
	s.Equal(rotationStart.Add(2*time.Hour), records[2].Rotation.UpdatedAt)
	s.Zero(records[3].Rotation.PreviousUntil, "the last record says no previous secret is accepted")
	s.Equal(windowEnd, records[3].Rotation.UpdatedAt)

	s.Equal(aicc.RotationComplete, s.query().Status, "an ended rotation can still be queried")
}

// While Pages miss their token a reminder fires every interval, also after the window is over: the rotation
// does not end while it is pending.
func (s *RotationSuite) TestRemindersWhilePagesAreMissing() {
	s.setPages("p1", "p2")
	s.setAppSecret(0, "sv_app", 24*time.Hour)
	early := s.queryAt(3*time.Hour + 30*time.Minute)
	var earlyReminders []time.Duration
	s.at(3*time.Hour+30*time.Minute, func() { earlyReminders = s.reminders() })
	late := s.queryAt(26*time.Hour + 15*time.Minute)
	s.at(26*time.Hour+30*time.Minute, func() { s.setPages() }) // the Pages are removed: none is missing

	res := s.run(remindEvery(time.Hour))

	s.Equal([]time.Duration{time.Hour, 2 * time.Hour, 3 * time.Hour}, earlyReminders)
	s.Equal(aicc.RotationPending, early.Status)
	s.Equal(3, early.Reminders)
	s.Equal(rotationStart.Add(3*time.Hour), early.RemindedAt)
	s.Equal(2, early.PagesMissing)
	s.Equal([]string{"p1", "p2"}, early.MissingPageIDs)

	first := s.records()[1]
	s.True(first.Remind)
	s.Equal(aicc.Rotation{
		Status: aicc.RotationPending, StartedAt: rotationStart, PreviousUntil: rotationStart.Add(24 * time.Hour),
		PagesMissing: 2, RemindedAt: rotationStart.Add(time.Hour), UpdatedAt: rotationStart.Add(time.Hour),
	}, first.Rotation)

	retired := s.retirements()
	s.Require().Len(retired, 1)
	s.Equal(24*time.Hour, retired[0].at)
	s.Nil(retired[0].in.(activities.RetirePreviousAppSecretInput).Revoked)

	s.Equal(aicc.RotationPending, late.Status, "still pending after the window")
	s.Zero(late.PreviousUntil)
	s.Equal(26, late.Reminders)
	s.Equal(rotationStart.Add(26*time.Hour), late.RemindedAt)

	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(27*time.Hour, s.ended(), "complete at the next reminder, and over")
	s.Len(s.reminders(), 26, "no reminder once nothing is missing")
	last := s.records()[len(s.records())-1]
	s.False(last.Remind)
	s.Equal(aicc.RotationComplete, last.Rotation.Status)
	s.Zero(last.Rotation.PagesMissing)
	s.Equal(26, s.query().Reminders, "the check that found nothing missing is no reminder")
}

// A second app-secret change within the window keeps the secret it replaces, which Meta signed with until its
// reset (every secret is checked with Meta before it is made current), counts the new window from the second
// change, and starts the Pages over.
func (s *RotationSuite) TestSecondAppSecretChange() {
	s.setPages("p1", "p2")
	s.setAppSecret(0, "sv_app_1", 24*time.Hour)
	second := s.setAppSecret(5*time.Hour, "sv_app_2", 12*time.Hour)
	s.setPageToken(18*time.Hour, "p1", "sv_p1b")
	s.setPageToken(19*time.Hour, "p2", "sv_p2")

	res := s.run(rotationIn)

	s.Equal([]activities.ChangeAppSecretInput{{
		TenantID: "ten_1", ChannelID: "ch_1", VersionID: "sv_app_1", PreviousUntil: rotationStart.Add(24 * time.Hour),
		Requester: by("req-sv_app_1"),
	}, {
		TenantID: "ten_1", ChannelID: "ch_1", VersionID: "sv_app_2", PreviousUntil: rotationStart.Add(17 * time.Hour),
		Requester: by("req-sv_app_2"),
	}}, s.appSecretChanges())

	s.requireDone(second)
	s.Equal(workflows.RotationState{
		Status: aicc.RotationPending, StartedAt: rotationStart.Add(5 * time.Hour), StartedBy: admin,
		PreviousUntil: rotationStart.Add(17 * time.Hour), PagesMissing: 2, MissingPageIDs: []string{"p1", "p2"},
	}, second.state, "PagesDone starts over")

	retired := s.retirements()
	s.Require().Len(retired, 1, "the first window's end retires nothing")
	s.Equal(17*time.Hour, retired[0].at)

	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(19*time.Hour, s.ended(), "the window is over: the rotation ends once complete")
}

// An app-secret change after the window keeps the secret it replaces, for a window of its own.
func (s *RotationSuite) TestAppSecretChangeAfterTheWindow() {
	s.setPages("p1")
	s.setAppSecret(0, "sv_app_1", time.Hour)
	s.setAppSecret(3*time.Hour, "sv_app_2", time.Hour)
	s.setPageToken(5*time.Hour, "p1", "sv_p1")

	res := s.run(rotationIn)

	changes := s.appSecretChanges()
	s.Require().Len(changes, 2)
	s.Equal(rotationStart.Add(4*time.Hour), changes[1].PreviousUntil)
	var at []time.Duration
	for _, c := range s.retirements() {
		at = append(at, c.at)
	}
	s.Equal([]time.Duration{time.Hour, 4 * time.Hour}, at)
	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(5*time.Hour, s.ended())
}

// revoke-previous ends the window at once, and says who did; a second one finds nothing to revoke.
func (s *RotationSuite) TestRevokePrevious() {
	s.setPages("p1")
	s.setAppSecret(0, "sv_app", 24*time.Hour)
	revoked := s.revoke(2*time.Hour, "req-revoke-1")
	after := s.queryAt(2*time.Hour + 30*time.Minute)
	again := s.revoke(3*time.Hour, "req-revoke-2")
	s.setPageToken(4*time.Hour, "p1", "sv_p1")

	res := s.run(rotationIn)

	s.requireDone(revoked)
	s.Zero(revoked.state.PreviousUntil)
	s.Equal(aicc.RotationPending, revoked.state.Status)
	s.Zero(after.PreviousUntil)

	retired := s.retirements()
	s.Require().Len(retired, 1, "nothing is left to retire at the window's end")
	s.Equal(2*time.Hour, retired[0].at)
	req := by("req-revoke-1")
	s.Equal(activities.RetirePreviousAppSecretInput{TenantID: "ten_1", ChannelID: "ch_1", Revoked: &req}, retired[0].in)
	s.Equal([]string{"RetirePreviousAppSecret", "RecordRotation"}, s.callsAt(2*time.Hour))
	s.Zero(s.records()[1].Rotation.PreviousUntil, "recorded: no previous secret is accepted")

	s.False(again.accepted)
	s.Equal(aicc.ENOPREVIOUSSECRET, again.code())
	s.Empty(s.callsAt(3*time.Hour), "a rejected revocation runs nothing")

	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(4*time.Hour, s.ended(), "complete with no previous secret: over at once")
}

// Revoking the previous secret of a complete rotation ends it.
func (s *RotationSuite) TestRevokeEndsACompleteRotation() {
	secret := s.setAppSecret(0, "sv_app", 24*time.Hour)
	s.revoke(time.Hour, "req-revoke")

	res := s.run(rotationIn)

	s.requireDone(secret)
	s.Equal(aicc.RotationComplete, secret.state.Status, "a channel without Pages completes at once")
	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(time.Hour, s.ended())
	s.Len(s.retirements(), 1)
}

// revoke-previous before any app-secret change has nothing to revoke.
func (s *RotationSuite) TestRevokeWithoutAppSecretChange() {
	out := s.revoke(0, "req-revoke")

	res := s.run(rotationIn)

	s.False(out.accepted)
	s.Equal(aicc.ENOPREVIOUSSECRET, out.code())
	s.Empty(s.names())
	s.Equal(workflows.RotationResult{}, res)
	s.Equal(time.Minute, s.ended(), "no accepted request: the rotation ends after a minute")
}

// The previous secret is retired by the window's timer exactly once, at its end; a pending rotation reminds
// daily by default.
func (s *RotationSuite) TestWindowExpiryRetiresThePreviousSecret() {
	s.setPages("p1")
	s.setAppSecret(0, "sv_app", 6*time.Hour)
	after := s.queryAt(7 * time.Hour)
	s.setPageToken(25*time.Hour, "p1", "sv_p1")

	res := s.run(rotationIn)

	retired := s.retirements()
	s.Require().Len(retired, 1)
	s.Equal(6*time.Hour, retired[0].at)
	s.Nil(retired[0].in.(activities.RetirePreviousAppSecretInput).Revoked)
	s.Equal([]string{"RetirePreviousAppSecret", "RecordRotation"}, s.callsAt(6*time.Hour))
	s.Zero(s.records()[1].Rotation.PreviousUntil)

	s.Equal(aicc.RotationPending, after.Status)
	s.Zero(after.PreviousUntil)
	s.Equal([]time.Duration{24 * time.Hour}, s.reminders(), "DefaultRotationReminderInterval")
	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(25*time.Hour, s.ended())
}

// The longest window is accepted, and the previous secret is retired when it ends.
func (s *RotationSuite) TestSevenDayWindow() {
	secret := s.setAppSecret(0, "sv_app", aicc.MaxRotationOverlap)

	res := s.run(rotationIn)

	s.requireDone(secret)
	s.Equal(rotationStart.Add(aicc.MaxRotationOverlap), s.appSecretChanges()[0].PreviousUntil)
	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(aicc.MaxRotationOverlap, s.ended())
	s.Len(s.retirements(), 1)
}

// A zero-second window cuts over at once: no previous secret is kept, none is retired later, and a channel
// whose Pages need nothing is done right away.
func (s *RotationSuite) TestZeroSecondWindow() {
	secret := s.setAppSecret(0, "sv_app", 0)

	res := s.run(rotationIn)

	s.Equal([]activities.ChangeAppSecretInput{{
		TenantID: "ten_1", ChannelID: "ch_1", VersionID: "sv_app", Requester: by("req-sv_app"),
	}}, s.appSecretChanges(), "zero PreviousUntil")
	s.requireDone(secret)
	s.Equal(aicc.RotationComplete, secret.state.Status)
	s.Zero(secret.state.PreviousUntil)
	s.Equal([]string{"ChangeAppSecret", "PagesWithoutNewToken", "RecordRotation"}, s.names())
	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Zero(s.ended())
}

// A zero-second change within a window (the new secret leaked) stops accepting the previous secret too.
func (s *RotationSuite) TestZeroSecondChangeWithinTheWindow() {
	s.setPages("p1")
	s.setAppSecret(0, "sv_app_1", 24*time.Hour)
	second := s.setAppSecret(time.Hour, "sv_app_2", 0)
	s.setPageToken(2*time.Hour, "p1", "sv_p1")

	res := s.run(rotationIn)

	changes := s.appSecretChanges()
	s.Require().Len(changes, 2)
	s.Zero(changes[1].PreviousUntil)
	s.requireDone(second)
	s.Zero(second.state.PreviousUntil)
	s.Empty(s.retirements())
	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(2*time.Hour, s.ended())
}

// A channel found being deleted, or gone, by an activity at a deadline ends the rotation at once.
func (s *RotationSuite) TestChannelDeletedAtADeadline() {
	for _, code := range []string{aicc.ECHANNELDELETING, aicc.ENOTFOUND} {
		for _, tc := range []struct {
			activity string
			at       time.Duration // when it finds the channel gone
		}{
			{"PagesWithoutNewToken", 2 * time.Hour},    // at a reminder
			{"RecordRotation", 2 * time.Hour},          // at a reminder
			{"RetirePreviousAppSecret", 3 * time.Hour}, // at the window's end
		} {
			s.Run(code+"/"+tc.activity, func() {
				s.SetupTest()
				s.setPages("p1")
				s.setAppSecret(0, "sv_app", 3*time.Hour)
				s.at(tc.at-time.Minute, func() { s.fail(tc.activity, channelGone(code)) })

				res := s.run(workflows.SecretRotationInput{TenantID: "ten_1", ChannelID: "ch_1", ReminderInterval: 2 * time.Hour})

				s.Equal(workflows.RotationResult{Status: aicc.RotationPending, ChannelGone: true}, res)
				s.Equal(tc.at, s.ended(), "ends at once")
				calls := s.callsAt(tc.at)
				s.Require().NotEmpty(calls)
				s.Equal(tc.activity, calls[len(calls)-1], "not retried; nothing after it")
			})
		}
	}
}

// A channel found being deleted by an Update's activity fails that Update and the ones queued behind it, and
// ends the rotation.
func (s *RotationSuite) TestChannelDeletedDuringAnUpdate() {
	s.setPages("p1", "p2")
	s.setAppSecret(0, "sv_app", 24*time.Hour)
	s.at(time.Hour-time.Minute, func() { s.fail("ChangePageToken:p1", channelGone(aicc.ECHANNELDELETING)) })
	p1 := s.setPageToken(time.Hour, "p1", "sv_p1")
	p2 := s.setPageToken(time.Hour, "p2", "sv_p2")

	res := s.run(rotationIn)

	s.True(p1.done)
	s.Equal(aicc.ECHANNELDELETING, p1.code())
	s.True(p2.done, "the queued Update gets an answer")
	s.Equal(aicc.ECHANNELDELETING, p2.code())
	s.Equal([]string{"ChangePageToken:p1"}, s.callsAt(time.Hour), "p2 is not changed")
	s.Equal(workflows.RotationResult{Status: aicc.RotationPending, ChannelGone: true}, res)
	s.Equal(time.Hour, s.ended())
	s.Empty(s.retirements())
}

// A channel being deleted already when its app secret is changed: the store's answer, retryable as the
// activity gives it, is not retried.
func (s *RotationSuite) TestAppSecretChangeOfADeletingChannel() {
	s.fail("ChangeAppSecret", temporal.NewApplicationError("The channel is being deleted.", aicc.ECHANNELDELETING))
	secret := s.setAppSecret(0, "sv_app", 24*time.Hour)

	res := s.run(rotationIn)

	s.True(secret.done)
	s.Equal(aicc.ECHANNELDELETING, secret.code())
	s.Equal([]string{"ChangeAppSecret"}, s.names())
	s.Equal(workflows.RotationResult{ChannelGone: true}, res)
	s.Zero(s.ended())
}

// The channel's deletion cancels the rotation: it ends, and nothing more runs.
func (s *RotationSuite) TestCancelledByTheChannelDeletion() {
	s.setPages("p1")
	s.setAppSecret(0, "sv_app", 24*time.Hour)
	s.at(2*time.Hour+30*time.Minute, s.env.CancelWorkflow)

	s.env.ExecuteWorkflow(workflows.SecretRotationWorkflowType, remindEvery(time.Hour))

	s.Require().True(s.env.IsWorkflowCompleted())
	s.True(temporal.IsCanceledError(s.env.GetWorkflowError()), "%v", s.env.GetWorkflowError())
	s.Equal(2*time.Hour+30*time.Minute, s.ended())
	s.Equal([]time.Duration{time.Hour, 2 * time.Hour}, s.reminders())
	s.Empty(s.retirements())
}

// A request the validator rejects runs no activity; a rotation with no accepted request ends after a minute.
func (s *RotationSuite) TestInvalidRequestsAreRejected() {
	for _, tc := range []struct {
		name, update string
		arg          any
		problem      string
	}{
		{"overlap over 7 days", workflows.UpdateSetAppSecret,
			workflows.SetAppSecretRequest{VersionID: "sv_app", Overlap: aicc.MaxRotationOverlap + time.Second}, "overlap must be 0 to 7 days"},
		{"negative overlap", workflows.UpdateSetAppSecret,
			workflows.SetAppSecretRequest{VersionID: "sv_app", Overlap: -time.Second}, "overlap must be 0 to 7 days"},
		{"no app secret version", workflows.UpdateSetAppSecret,
			workflows.SetAppSecretRequest{Overlap: time.Hour}, "versionId is required"},
		{"no Page", workflows.UpdateSetPageToken,
			workflows.SetPageTokenRequest{VersionID: "sv_p1"}, "pageId is required"},
		{"no token version", workflows.UpdateSetPageToken,
			workflows.SetPageTokenRequest{PageID: "p1"}, "versionId is required"},
	} {
		s.Run(tc.name, func() {
			s.SetupTest()
			s.setPages("p1")
			out := s.update(0, tc.update, tc.arg)

			res := s.run(rotationIn)

			s.False(out.accepted)
			s.False(out.done)
			s.Equal(aicc.EINVALID, out.code())
			s.Contains(out.rejected.Error(), tc.problem)
			s.Empty(s.names())
			s.Equal(workflows.RotationResult{}, res)
			s.Equal(time.Minute, s.ended())
		})
	}
}

// A rejected request leaves a running rotation as it is.
func (s *RotationSuite) TestRejectedRequestDuringARotation() {
	s.setPages("p1")
	s.setAppSecret(0, "sv_app", time.Hour)
	bad := s.update(30*time.Minute, workflows.UpdateSetAppSecret, workflows.SetAppSecretRequest{VersionID: "sv_app_2", Overlap: -time.Hour})
	s.setPageToken(2*time.Hour, "p1", "sv_p1")

	res := s.run(rotationIn)

	s.Equal(aicc.EINVALID, bad.code())
	s.Len(s.appSecretChanges(), 1)
	s.Empty(s.callsAt(30 * time.Minute))
	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(2*time.Hour, s.ended())
}

// A Page token Meta refuses fails the Update with Meta's code, and the rotation goes on as before.
func (s *RotationSuite) TestPageTokenRefusedByMeta() {
	s.setPages("p1", "p2")
	s.setAppSecret(0, "sv_app", 0)
	s.setPageToken(time.Hour, "p1", "sv_p1")
	s.at(2*time.Hour-time.Minute, func() {
		s.fail("ChangePageToken:p2", temporal.NewNonRetryableApplicationError("Meta refused the token.", aicc.EMETATOKENINVALID, nil))
	})
	refused := s.setPageToken(2*time.Hour, "p2", "sv_p2_bad")
	after := s.queryAt(2*time.Hour + 30*time.Minute)
	s.setPageToken(3*time.Hour, "p2", "sv_p2")

	res := s.run(rotationIn)

	s.True(refused.accepted)
	s.True(refused.done)
	s.Equal(aicc.EMETATOKENINVALID, refused.code())
	s.Equal([]string{"ChangePageToken:p2"}, s.callsAt(2*time.Hour), "not retried, nothing recorded")
	s.Equal(aicc.RotationPending, after.Status)
	s.Equal([]string{"p1"}, after.PagesDone)
	s.Equal(1, after.PagesMissing)

	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
	s.Equal(3*time.Hour, s.ended())
}

// A rotation of a Page token alone, with no app-secret change, ends once the token is changed, and records
// no rotation.
func (s *RotationSuite) TestPageTokenAlone() {
	s.setPages("p1")
	out := s.setPageToken(0, "p1", "sv_p1")

	res := s.run(rotationIn)

	s.requireDone(out)
	s.Empty(out.state.Status)
	s.Equal([]string{"ChangePageToken:p1"}, s.names())
	s.Equal(workflows.RotationResult{}, res)
	s.Zero(s.ended())
}

// Changes that arrive together are applied one at a time, in the order they arrived.
func (s *RotationSuite) TestChangesApplyOneAtATime() {
	s.setPages("p1", "p2")
	s.setAppSecret(0, "sv_app", 0)
	p1 := s.setPageToken(time.Hour, "p1", "sv_p1")
	p2 := s.setPageToken(time.Hour, "p2", "sv_p2")

	res := s.run(rotationIn)

	s.Equal([]string{
		"ChangePageToken:p1", "PagesWithoutNewToken", "RecordRotation",
		"ChangePageToken:p2", "PagesWithoutNewToken", "RecordRotation",
	}, s.callsAt(time.Hour))
	s.requireDone(p1)
	s.Equal(aicc.RotationPending, p1.state.Status)
	s.requireDone(p2)
	s.Equal(aicc.RotationComplete, p2.state.Status)
	s.Equal([]string{"p1", "p2"}, p2.state.PagesDone)
	s.Equal(workflows.RotationResult{Status: aicc.RotationComplete}, res)
}

// A rotation started with no Update at all ends after a minute.
func (s *RotationSuite) TestNoRequestEndsAfterAMinute() {
	res := s.run(rotationIn)

	s.Equal(workflows.RotationResult{}, res)
	s.Equal(time.Minute, s.ended())
	s.Empty(s.names())
}

func (s *RotationSuite) TestInvalidInput() {
	s.env.ExecuteWorkflow(workflows.SecretRotationWorkflowType, workflows.SecretRotationInput{ReminderInterval: -time.Hour})

	s.Require().True(s.env.IsWorkflowCompleted())
	err := s.env.GetWorkflowError()
	s.Equal(aicc.EINVALID, aicc.ErrorCode(workflows.DomainError(err)))
	for _, problem := range []string{"tenantId is required", "channelId is required", "reminderInterval must not be negative"} {
		s.Contains(err.Error(), problem)
	}
}
