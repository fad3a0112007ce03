package aicc

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Channel is a Facebook channel: one Meta app, its signing algorithm, the basic and robot configuration, and
// the onboarding state. Secrets are not fields: the store keeps them sealed and Channel shows only their
// SecretInfo.
type Channel struct {
	ID        string
	TenantID  string
	Name      string
	AppID     string
	Algorithm SignatureAlgorithm
	Basic     BasicConfig
	Robot     RobotConfig

	AppSecret   SecretInfo
	VerifyToken SecretInfo
	// AppClaimedAt is when the channel claimed its Meta app, after Meta confirmed that the App Secret is the
	// app's; zero until then. Only a claimed app is unique: an unproven channel blocks no one.
	AppClaimedAt time.Time
	Onboarding   Onboarding
	// TokenHealth is the worst token health of the channel's Pages, "" when it has none; set by the store.
	TokenHealth TokenHealth
	// Rotation is the state of the channel's latest secret rotation, written by its workflow.
	Rotation Rotation

	CreatedAt time.Time
	UpdatedAt time.Time
}

// SignatureAlgorithm is the HMAC Meta signs webhook payloads with ("Interconnection Encryption Algorithm").
type SignatureAlgorithm string

// Signature algorithms. SHA-1 is accepted for old apps but flagged as weak.
const (
	AlgorithmSHA256 SignatureAlgorithm = "sha256"
	AlgorithmSHA1   SignatureAlgorithm = "sha1"
)

// ChannelStatus is where a channel is in its onboarding.
type ChannelStatus string

// Channel statuses. pending → awaiting_verification → verified → active is the happy path; deleting is the
// last status of every channel.
const (
	// StatusPending is a stored channel whose onboarding has not recorded its first step yet: the workflow is
	// starting, or Temporal was unavailable and the worker's resumer starts it.
	StatusPending              ChannelStatus = "pending"
	StatusAwaitingVerification ChannelStatus = "awaiting_verification"
	StatusVerified             ChannelStatus = "verified"
	StatusActive               ChannelStatus = "active" // "Successful access"
	StatusVerificationExpired  ChannelStatus = "verification_expired"
	StatusCancelled            ChannelStatus = "cancelled"
	StatusFailed               ChannelStatus = "failed"
	StatusDisabled             ChannelStatus = "disabled"
	// StatusDeleting is a channel whose deletion runs: its Pages are being disconnected from Meta. Its webhooks
	// are still stored, and it accepts no other change.
	StatusDeleting ChannelStatus = "deleting"
)

// ChannelStatuses lists every status, for filters and documentation.
var ChannelStatuses = []ChannelStatus{
	StatusPending, StatusAwaitingVerification, StatusVerified, StatusActive, StatusVerificationExpired,
	StatusCancelled, StatusFailed, StatusDisabled, StatusDeleting,
}

// Valid reports whether s is a known status.
func (s ChannelStatus) Valid() bool { return slices.Contains(ChannelStatuses, s) }

// Onboarding is the onboarding state as last written by the onboarding workflow.
type Onboarding struct {
	Status      ChannelStatus
	Step        string // what the workflow waits for, e.g. "await_meta_verification"
	ErrorCode   string // why the onboarding failed, when Status is failed
	VerifiedAt  time.Time
	ActivatedAt time.Time
	UpdatedAt   time.Time
}

// BasicConfig is the "Basic Configuration" of a channel (seed Table 2).
type BasicConfig struct {
	OUID                 string               `json:"ouId"`
	SkillQueueID         string               `json:"skillQueueId"`
	TransferKeywords     KeywordList          `json:"transferKeywords"`
	WorkTime             WorkTime             `json:"workTime"`
	ServiceCalendarID    string               `json:"serviceCalendarId,omitempty"`
	NonWorkingTimeNotice string               `json:"nonWorkingTimeNotice,omitempty"`
	LastAgent            LastAgentMode        `json:"lastAgentMode"`
	NoCustomerReply      NoCustomerReplyEnd   `json:"noCustomerReplyEnd"`
	NoAgentReply         NoAgentReplyTransfer `json:"noAgentReplyTransfer"`
	SessionTransfer      SessionTransfer      `json:"sessionTransfer"`
}

// WorkTime holds the agents' working-time segments for working and non-working days.
type WorkTime struct {
	Workday    SegmentList `json:"workday"`
	NonWorkday SegmentList `json:"nonWorkday"`
}

// TimeSegment is a half-open span of a day, "HH:MM" to "HH:MM", within 00:00–24:00.
type TimeSegment struct {
	Start string `json:"start"`
	End   string `json:"end"`
}

// LastAgentMode routes a returning customer to the agent who served them last, within a window.
type LastAgentMode struct {
	Enabled       bool `json:"enabled"`
	WindowMinutes int  `json:"windowMinutes"`
}

// NoCustomerReplyEnd ends a session when the customer has not replied for TimeoutMinutes. With WorkTimeOnly
// only the agents' working time counts (WorkSchedule.AddWorkingTime): a session left at the end of the working
// day ends the next working morning, once the rest of the timeout has passed.
type NoCustomerReplyEnd struct {
	Enabled        bool   `json:"enabled"`
	TimeoutMinutes int    `json:"timeoutMinutes"`
	EndMessage     string `json:"endMessage,omitempty"`
	WorkTimeOnly   bool   `json:"workTimeOnly"`
}

// NoAgentReplyTransfer moves a session to another skill queue when the agent has not replied in time.
type NoAgentReplyTransfer struct {
	Enabled            bool   `json:"enabled"`
	TimeoutSeconds     int    `json:"timeoutSeconds"`
	TargetSkillQueueID string `json:"targetSkillQueueId,omitempty"`
	Notice             string `json:"notice,omitempty"`
}

// SessionTransfer lets agents transfer a session to one of the allowed skill queues.
type SessionTransfer struct {
	Enabled             bool        `json:"enabled"`
	TargetSkillQueueIDs QueueIDList `json:"targetSkillQueueIds"`
}

// RobotConfig is the "Robot Configuration" of a channel (seed Table 3).
type RobotConfig struct {
	Robot     IntelligentRobot `json:"intelligentRobot"`
	Assistant RobotAssistant   `json:"robotAssistant"`
}

// IntelligentRobot answers customers first; the transfer keywords hand them to an agent.
type IntelligentRobot struct {
	Enabled    bool   `json:"enabled"`
	AccessCode string `json:"accessCode,omitempty"`
	Name       string `json:"name,omitempty"`
	Avatar     int    `json:"avatar,omitempty"` // one of the system avatars, 1–7
	Gender     Gender `json:"gender,omitempty"`
}

// Gender of the robot persona.
type Gender string

// Robot genders.
const (
	GenderFemale      Gender = "female"
	GenderMale        Gender = "male"
	GenderUnspecified Gender = "unspecified"
)

// RobotAssistant assists agents silently; its suggestions go to the silent-agent skill queue.
type RobotAssistant struct {
	Enabled                 bool   `json:"enabled"`
	AccessCode              string `json:"accessCode,omitempty"`
	SilentAgentSkillQueueID string `json:"silentAgentSkillQueueId,omitempty"`
}

// Channel limits and defaults. Ranges marked (AICC) are sourced from AICC's documentation; the others are
// our own bounds, chosen so that no field is unbounded.
const (
	MaxChannelNameLen             = 64 // (AICC)
	MaxWorkTimeSegments           = 4  // (AICC)
	MaxTransferKeywords           = 20
	MaxTransferKeywordLen         = 50
	DefaultLastAgentWindowMinutes = 1_440
	MaxLastAgentWindowMinutes     = 10_080 // (AICC, familiar-agent routing)
	DefaultNoCustomerReplyMinutes = 20     // (AICC)
	MaxNoCustomerReplyMinutes     = 60     // (AICC)
	DefaultNoAgentReplySeconds    = 60
	MaxNoAgentReplySeconds        = 3_600
	MaxTransferTargets            = 20
	RobotAvatars                  = 7 // (AICC: seven system avatars)
	MaxRobotNameLen               = 50
	MaxSecretLen                  = 4_096
	// MaxChannelPages bounds a channel's Pages: every list of them (a deletion's, a rotation's, an export's
	// cells, which XLSX caps at 32,767 characters) stays bounded.
	MaxChannelPages = 200
)

var (
	channelNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)
	metaIDRE      = regexp.MustCompile(`^[0-9]{1,32}$`)
	clockRE       = regexp.MustCompile(`^([01][0-9]|2[0-4]):([0-5][0-9])$`)
)

// DefaultChannel returns the configuration a new channel starts from: SHA-256, one workday segment covering
// the whole day, a 20-minute no-customer-reply timeout, and the other timers and the robot persona at their
// defaults. Requests are decoded onto it, so an absent field keeps its default while an explicit value, even
// 0, is validated as sent.
func DefaultChannel() Channel {
	return Channel{
		Algorithm: AlgorithmSHA256,
		Basic: BasicConfig{
			WorkTime:        WorkTime{Workday: []TimeSegment{{Start: "00:00", End: "24:00"}}},
			LastAgent:       LastAgentMode{WindowMinutes: DefaultLastAgentWindowMinutes},
			NoCustomerReply: NoCustomerReplyEnd{TimeoutMinutes: DefaultNoCustomerReplyMinutes},
			NoAgentReply:    NoAgentReplyTransfer{TimeoutSeconds: DefaultNoAgentReplySeconds},
		},
		Robot: RobotConfig{Robot: IntelligentRobot{Avatar: 1, Gender: GenderUnspecified}},
	}
}

// Warnings are accepted but unwise settings, shown to the administrator with the channel.
func (c *Channel) Warnings() []string {
	if c.Algorithm == AlgorithmSHA1 {
		return []string{"SHA-1 is not strong enough and poses security risks; use SHA-256 if the app supports it."}
	}
	return nil
}

// References returns the IDs of the directory resources the configuration refers to, for the caller to
// load into a Refs before Validate.
func (c *Channel) References() (ouIDs, queueIDs, calendarIDs []string) {
	b := &c.Basic
	add := func(ids []string, id string) []string {
		if id == "" || slices.Contains(ids, id) {
			return ids
		}
		return append(ids, id)
	}
	ouIDs = add(ouIDs, b.OUID)
	queueIDs = add(queueIDs, b.SkillQueueID)
	if b.NoAgentReply.Enabled {
		queueIDs = add(queueIDs, b.NoAgentReply.TargetSkillQueueID)
	}
	// Past its limit the list is refused by Validate, and none of it is looked up.
	if b.SessionTransfer.Enabled && len(b.SessionTransfer.TargetSkillQueueIDs) <= MaxTransferTargets {
		for _, id := range b.SessionTransfer.TargetSkillQueueIDs {
			queueIDs = add(queueIDs, id)
		}
	}
	if c.Robot.Assistant.Enabled {
		queueIDs = add(queueIDs, c.Robot.Assistant.SilentAgentSkillQueueID)
	}
	calendarIDs = add(calendarIDs, b.ServiceCalendarID)
	return ouIDs, queueIDs, calendarIDs
}

// Refs holds the directory resources of the channel's tenant that its configuration refers to, by ID.
// A missing entry means the resource does not exist in the tenant.
type Refs struct {
	OUs         map[string]*OU
	SkillQueues map[string]*SkillQueue
	Calendars   map[string]*ServiceCalendar
}

// Validate checks every rule of the channel's fields and reports every broken one at once. refs must hold
// what References names, as found in the channel's own tenant.
func (c *Channel) Validate(refs Refs) error {
	fe := FieldErrors{}
	if !channelNameRE.MatchString(c.Name) {
		fe.Add("name", "must be 1 to 64 letters, digits or underscores, starting with a letter or an underscore")
	}
	if !metaIDRE.MatchString(c.AppID) {
		fe.Add("appId", "must be the numeric ID of the Meta app")
	}
	if c.Algorithm != AlgorithmSHA256 && c.Algorithm != AlgorithmSHA1 {
		fe.Add("algorithm", `must be "sha256" or "sha1"`)
	}
	c.Basic.validate(fe, refs, c.Robot.Robot.Enabled)
	c.Robot.validate(fe, refs)
	return fe.Err()
}

func (b *BasicConfig) validate(fe FieldErrors, refs Refs, robotEnabled bool) {
	if b.OUID == "" {
		fe.Add("basic.ouId", "is required")
	} else if refs.OUs[b.OUID] == nil {
		fe.Add("basic.ouId", "names no OU of this tenant")
	}
	queue := refs.SkillQueues[b.SkillQueueID]
	if b.SkillQueueID == "" {
		fe.Add("basic.skillQueueId", "is required")
	} else if queue == nil {
		fe.Add("basic.skillQueueId", "names no skill queue of this tenant")
	}

	if robotEnabled && len(b.TransferKeywords) == 0 {
		fe.Add("basic.transferKeywords", "is required when the intelligent robot is enabled")
	}
	// A list is checked item by item only within its limit, so that no request costs more than linear work.
	if len(b.TransferKeywords) > MaxTransferKeywords {
		fe.Add("basic.transferKeywords", "must have at most %d keywords", MaxTransferKeywords)
	} else {
		for i, k := range b.TransferKeywords {
			field := fmt.Sprintf("basic.transferKeywords[%d]", i)
			checkLen(fe, field, strings.TrimSpace(k), 1, MaxTransferKeywordLen)
			if slices.Index(b.TransferKeywords, k) < i {
				fe.Add(field, "repeats a keyword")
			}
		}
	}

	checkSegments(fe, "basic.workTime.workday", b.WorkTime.Workday)
	checkSegments(fe, "basic.workTime.nonWorkday", b.WorkTime.NonWorkday)
	if b.ServiceCalendarID != "" && refs.Calendars[b.ServiceCalendarID] == nil {
		fe.Add("basic.serviceCalendarId", "names no service calendar of this tenant")
	}
	checkLen(fe, "basic.nonWorkingTimeNotice", b.NonWorkingTimeNotice, 0, maxNotificationTextLen)

	checkRange(fe, "basic.lastAgentMode.windowMinutes", b.LastAgent.WindowMinutes, 1, MaxLastAgentWindowMinutes)

	ncr := &b.NoCustomerReply
	checkRange(fe, "basic.noCustomerReplyEnd.timeoutMinutes", ncr.TimeoutMinutes, 1, MaxNoCustomerReplyMinutes)
	if ncr.Enabled {
		checkLen(fe, "basic.noCustomerReplyEnd.endMessage", ncr.EndMessage, 1, maxNotificationTextLen)
		if queue != nil && ncr.TimeoutMinutes*60 <= queue.MaxWaitSeconds {
			fe.Add("basic.noCustomerReplyEnd.timeoutMinutes",
				"must exceed the skill queue's maximum waiting time of %d seconds", queue.MaxWaitSeconds)
		}
	} else {
		checkLen(fe, "basic.noCustomerReplyEnd.endMessage", ncr.EndMessage, 0, maxNotificationTextLen)
	}
	if ncr.Enabled && ncr.WorkTimeOnly && len(b.WorkTime.Workday) == 0 && len(b.WorkTime.NonWorkday) == 0 {
		fe.Add("basic.noCustomerReplyEnd.workTimeOnly", "needs working time: the work time has no segment, so no session would ever end")
	}

	nar := &b.NoAgentReply
	checkRange(fe, "basic.noAgentReplyTransfer.timeoutSeconds", nar.TimeoutSeconds, 1, MaxNoAgentReplySeconds)
	checkLen(fe, "basic.noAgentReplyTransfer.notice", nar.Notice, 0, maxNotificationTextLen)
	if nar.Enabled {
		checkQueueRef(fe, "basic.noAgentReplyTransfer.targetSkillQueueId", nar.TargetSkillQueueID, refs)
	}

	st := &b.SessionTransfer
	if st.Enabled && len(st.TargetSkillQueueIDs) == 0 {
		fe.Add("basic.sessionTransfer.targetSkillQueueIds", "is required when session transfer is enabled")
	}
	if len(st.TargetSkillQueueIDs) > MaxTransferTargets {
		fe.Add("basic.sessionTransfer.targetSkillQueueIds", "must have at most %d skill queues", MaxTransferTargets)
	} else if st.Enabled {
		for i, id := range st.TargetSkillQueueIDs {
			field := fmt.Sprintf("basic.sessionTransfer.targetSkillQueueIds[%d]", i)
			checkQueueRef(fe, field, id, refs)
			if slices.Index(st.TargetSkillQueueIDs, id) < i {
				fe.Add(field, "repeats a skill queue")
			}
		}
	}
}

func (r *RobotConfig) validate(fe FieldErrors, refs Refs) {
	robot := &r.Robot
	if robot.Enabled {
		checkLen(fe, "robot.intelligentRobot.accessCode", robot.AccessCode, 1, MaxAccessCodeLen)
		checkLen(fe, "robot.intelligentRobot.name", robot.Name, 1, MaxRobotNameLen)
	} else {
		checkLen(fe, "robot.intelligentRobot.accessCode", robot.AccessCode, 0, MaxAccessCodeLen)
		checkLen(fe, "robot.intelligentRobot.name", robot.Name, 0, MaxRobotNameLen)
	}
	checkRange(fe, "robot.intelligentRobot.avatar", robot.Avatar, 1, RobotAvatars)
	if robot.Gender != GenderFemale && robot.Gender != GenderMale && robot.Gender != GenderUnspecified {
		fe.Add("robot.intelligentRobot.gender", `must be "female", "male" or "unspecified"`)
	}

	assistant := &r.Assistant
	if assistant.Enabled {
		checkLen(fe, "robot.robotAssistant.accessCode", assistant.AccessCode, 1, MaxAccessCodeLen)
		checkQueueRef(fe, "robot.robotAssistant.silentAgentSkillQueueId", assistant.SilentAgentSkillQueueID, refs)
	} else {
		checkLen(fe, "robot.robotAssistant.accessCode", assistant.AccessCode, 0, MaxAccessCodeLen)
	}
}

func checkQueueRef(fe FieldErrors, field, id string, refs Refs) {
	if id == "" {
		fe.Add(field, "is required")
	} else if refs.SkillQueues[id] == nil {
		fe.Add(field, "names no skill queue of this tenant")
	}
}

// checkSegments enforces at most four segments, HH:MM bounds within 00:00–24:00, start before end and no
// overlap between segments (touching ends are allowed).
func checkSegments(fe FieldErrors, field string, segs []TimeSegment) {
	if len(segs) > MaxWorkTimeSegments {
		fe.Add(field, "must have at most %d time segments", MaxWorkTimeSegments)
		return
	}
	type span struct{ start, end, index int }
	var spans []span
	for i, s := range segs {
		f := fmt.Sprintf("%s[%d]", field, i)
		start, okStart := parseClock(s.Start)
		end, okEnd := parseClock(s.End)
		switch {
		case !okStart:
			fe.Add(f+".start", "must be a time HH:MM from 00:00 to 24:00")
		case !okEnd:
			fe.Add(f+".end", "must be a time HH:MM from 00:00 to 24:00")
		case start >= end:
			fe.Add(f, "must start before it ends")
		default:
			spans = append(spans, span{start, end, i})
		}
	}
	slices.SortFunc(spans, func(a, b span) int { return a.start - b.start })
	for i := 1; i < len(spans); i++ {
		if spans[i].start < spans[i-1].end {
			later := max(spans[i].index, spans[i-1].index)
			fe.Add(fmt.Sprintf("%s[%d]", field, later), "overlaps another time segment")
		}
	}
}

// parseClock returns the minutes since midnight of "HH:MM", allowing "24:00" and nothing past it.
func parseClock(s string) (int, bool) {
	m := clockRE.FindStringSubmatch(s)
	if m == nil {
		return 0, false
	}
	minutes := int(m[1][0]-'0')*600 + int(m[1][1]-'0')*60 + int(m[2][0]-'0')*10 + int(m[2][1]-'0')
	return minutes, minutes <= 24*60
}

// Page is a Facebook Page added to a channel. A Page belongs to at most one channel in the system, the one
// that claimed it: a channel claims a Page only once Meta has confirmed that its token is that Page's
// (ClaimedAt). Until then it claims nothing, and other channels may hold the same Page ID, unproven too; so a
// Page is always named by its tenant, channel and Page ID together.
type Page struct {
	PageID    string // Meta's numeric Page ID
	ChannelID string
	TenantID  string
	Name      string
	Token     SecretInfo // the Page access token ("Token Secret"), write-only
	State     PageState
	ClaimedAt time.Time // when the channel claimed the Page, after Meta confirmed its token; zero until then
	CreatedAt time.Time
}

// PageStatus is where a Page is in its connection to Meta.
type PageStatus string

// Page statuses. A Page whose token Meta refuses when it is added is not kept: the caller gets the error.
const (
	PageConnecting         PageStatus = "connecting"          // the token check and subscription are running
	PageSubscribed         PageStatus = "subscribed"          // the app is subscribed, and Meta said so when read back
	PageSubscriptionFailed PageStatus = "subscription_failed" // the token works, the subscription did not; see Reason
	PageTokenInvalid       PageStatus = "token_invalid"       // Meta refused the token; only in results, never stored
	// PageAlreadyConnected: Meta confirmed the token, but another channel has claimed the Page; only in
	// results, never stored.
	PageAlreadyConnected PageStatus = "already_connected"
)

// PageState is a Page's connection status and the health of its token, as last recorded.
type PageState struct {
	Status            PageStatus
	Reason            string // the error code behind subscription_failed
	TokenHealth       TokenHealth
	TokenHealthReason string // the error code of the call that made the token degraded or reauth_required
	UpdatedAt         time.Time
}

// ValidatePage checks a new Page's ID and access token.
func ValidatePage(pageID, token string) error {
	fe := FieldErrors{}
	if !metaIDRE.MatchString(pageID) {
		fe.Add("pageId", "must be the numeric ID of the Facebook Page")
	}
	checkSecret(fe, "tokenSecret", token)
	return fe.Err()
}

// ValidateTokenSecret checks a Page access token as typed by the administrator.
func ValidateTokenSecret(token string) error {
	fe := FieldErrors{}
	checkSecret(fe, "tokenSecret", token)
	return fe.Err()
}

// ValidateAppSecret checks an app secret as typed by the administrator.
func ValidateAppSecret(secret string) error {
	fe := FieldErrors{}
	checkSecret(fe, "appSecret", secret)
	return fe.Err()
}

func checkSecret(fe FieldErrors, field, value string) {
	switch {
	case value == "":
		fe.Add(field, "is required")
	case len(value) > MaxSecretLen:
		fe.Add(field, "must have at most %d characters", MaxSecretLen)
	case strings.ContainsFunc(value, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		fe.Add(field, "must not contain spaces or control characters")
	}
}

// JoinInvalid merges the fields of several EINVALID errors into one, so that a request that breaks rules
// checked in different places still gets one answer with every field. Any other error, and an EINVALID without
// fields, is returned as it is.
func JoinInvalid(errs ...error) error {
	fe := FieldErrors{}
	for _, err := range errs {
		if err == nil {
			continue
		}
		e, ok := err.(*Error)
		if !ok || e.Code != EINVALID || len(e.Fields) == 0 {
			return err
		}
		for k, v := range e.Fields {
			fe.Add(k, "%s", v)
		}
	}
	return fe.Err()
}
