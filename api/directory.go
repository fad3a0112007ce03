package api

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/aiccfb/aicc"
)

type ouJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	ParentID  string    `json:"parentId,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

func toOUJSON(o *aicc.OU) ouJSON {
	return ouJSON{ID: o.ID, Name: o.Name, ParentID: o.ParentID, CreatedAt: o.CreatedAt.UTC()}
}

func (s *Server) createOU(c *gin.Context) error {
	var req struct {
		Name     string `json:"name"`
		ParentID string `json:"parentId"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	ou := &aicc.OU{ID: aicc.NewID(aicc.PrefixOU), TenantID: tenant, Name: req.Name, ParentID: req.ParentID, CreatedAt: s.now()}
	parentErr, err := s.checkOU(ctx, tenant, "parentId", ou.ParentID, false)
	if err != nil {
		return err
	}
	if err := aicc.JoinInvalid(ou.Validate(), parentErr); err != nil {
		return err
	}
	if err := s.Store.CreateOU(ctx, ou); err != nil {
		return err
	}
	c.JSON(http.StatusCreated, toOUJSON(ou))
	return nil
}

// checkOU returns, as fieldErr, what is wrong with the reference to the OU id in field: missing when required,
// or naming no OU of the tenant. err is a failure to look the OU up.
func (s *Server) checkOU(ctx context.Context, tenant, field, id string, required bool) (fieldErr, err error) {
	if id == "" {
		if required {
			return invalid(field, "is required"), nil
		}
		return nil, nil
	}
	_, err = s.Store.GetOU(ctx, tenant, id)
	if aicc.ErrorCode(err) == aicc.ENOTFOUND {
		return invalid(field, "names no OU of this tenant"), nil
	}
	return nil, err
}

func (s *Server) listOUs(c *gin.Context) error {
	return listScoped(c, s.Store.ListOUs, toOUJSON)
}

func (s *Server) getOU(c *gin.Context) error {
	return getScoped(c, s.Store.GetOU, c.Param("ouID"), toOUJSON)
}

type skillQueueJSON struct {
	ID             string    `json:"id"`
	Name           string    `json:"name"`
	AccessCode     string    `json:"accessCode"`
	OUID           string    `json:"ouId"`
	MaxWaitSeconds int       `json:"maxWaitSeconds"`
	MaxQueued      int       `json:"maxQueued"`
	WrapUpSeconds  int       `json:"wrapUpSeconds"`
	CreatedAt      time.Time `json:"createdAt"`
}

func toSkillQueueJSON(q *aicc.SkillQueue) skillQueueJSON {
	return skillQueueJSON{
		ID: q.ID, Name: q.Name, AccessCode: q.AccessCode, OUID: q.OUID, MaxWaitSeconds: q.MaxWaitSeconds,
		MaxQueued: q.MaxQueued, WrapUpSeconds: q.WrapUpSeconds, CreatedAt: q.CreatedAt.UTC(),
	}
}

func (s *Server) createSkillQueue(c *gin.Context) error {
	// Decoded onto the defaults: an absent limit keeps its default, an explicit 0 is checked as sent.
	defaults := aicc.DefaultSkillQueue()
	req := struct {
		Name           string `json:"name"`
		AccessCode     string `json:"accessCode"`
		OUID           string `json:"ouId"`
		MaxWaitSeconds int    `json:"maxWaitSeconds"`
		MaxQueued      int    `json:"maxQueued"`
		WrapUpSeconds  int    `json:"wrapUpSeconds"`
	}{MaxWaitSeconds: defaults.MaxWaitSeconds, MaxQueued: defaults.MaxQueued, WrapUpSeconds: defaults.WrapUpSeconds}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	ctx, tenant := c.Request.Context(), principalOf(c).TenantID
	q := &aicc.SkillQueue{
		ID: aicc.NewID(aicc.PrefixQueue), TenantID: tenant, Name: req.Name, AccessCode: req.AccessCode, OUID: req.OUID,
		MaxWaitSeconds: req.MaxWaitSeconds, MaxQueued: req.MaxQueued, WrapUpSeconds: req.WrapUpSeconds, CreatedAt: s.now(),
	}
	ouErr, err := s.checkOU(ctx, tenant, "ouId", q.OUID, true)
	if err != nil {
		return err
	}
	if err := aicc.JoinInvalid(q.Validate(), ouErr); err != nil {
		return err
	}
	if err := s.Store.CreateSkillQueue(ctx, q); err != nil {
		return err
	}
	c.JSON(http.StatusCreated, toSkillQueueJSON(q))
	return nil
}

func (s *Server) listSkillQueues(c *gin.Context) error {
	return listScoped(c, s.Store.ListSkillQueues, toSkillQueueJSON)
}

func (s *Server) getSkillQueue(c *gin.Context) error {
	return getScoped(c, s.Store.GetSkillQueue, c.Param("queueID"), toSkillQueueJSON)
}

type serviceCalendarJSON struct {
	ID                   string         `json:"id"`
	Name                 string         `json:"name"`
	TimeZone             string         `json:"timeZone"`
	WeeklyNonWorkingDays []time.Weekday `json:"weeklyNonWorkingDays"`
	RestDates            []string       `json:"restDates"`
	MakeUpWorkDates      []string       `json:"makeUpWorkDates"`
	CreatedAt            time.Time      `json:"createdAt"`
}

func toServiceCalendarJSON(sc *aicc.ServiceCalendar) serviceCalendarJSON {
	return serviceCalendarJSON{
		ID: sc.ID, Name: sc.Name, TimeZone: sc.TimeZone,
		WeeklyNonWorkingDays: nonNil(sc.WeeklyNonWorkingDays), RestDates: nonNil(sc.RestDates),
		MakeUpWorkDates: nonNil(sc.MakeUpWorkDates), CreatedAt: sc.CreatedAt.UTC(),
	}
}

func (s *Server) createServiceCalendar(c *gin.Context) error {
	var req struct {
		Name     string `json:"name"`
		TimeZone string `json:"timeZone"`
		// The lists are decoded only within their limits: a longer one is refused whole by Validate.
		WeeklyNonWorkingDays aicc.WeekdayList `json:"weeklyNonWorkingDays"`
		RestDates            aicc.DateList    `json:"restDates"`
		MakeUpWorkDates      aicc.DateList    `json:"makeUpWorkDates"`
	}
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	sc := &aicc.ServiceCalendar{
		ID: aicc.NewID(aicc.PrefixCalendar), TenantID: principalOf(c).TenantID, Name: req.Name,
		TimeZone: req.TimeZone, WeeklyNonWorkingDays: req.WeeklyNonWorkingDays, RestDates: req.RestDates,
		MakeUpWorkDates: req.MakeUpWorkDates, CreatedAt: s.now(),
	}
	if err := sc.Validate(); err != nil {
		return err
	}
	if err := s.Store.CreateServiceCalendar(c.Request.Context(), sc); err != nil {
		return err
	}
	c.JSON(http.StatusCreated, toServiceCalendarJSON(sc))
	return nil
}

func (s *Server) listServiceCalendars(c *gin.Context) error {
	return listScoped(c, s.Store.ListServiceCalendars, toServiceCalendarJSON)
}

func (s *Server) getServiceCalendar(c *gin.Context) error {
	return getScoped(c, s.Store.GetServiceCalendar, c.Param("calendarID"), toServiceCalendarJSON)
}

// listScoped answers one page of a tenant-scoped store list.
func listScoped[V, T any](c *gin.Context,
	list func(ctx context.Context, tenantID string, opt aicc.ListOptions) ([]V, string, error), toJSON func(V) T,
) error {
	opt, err := listOptions(c)
	if err != nil {
		return err
	}
	items, next, err := list(c.Request.Context(), principalOf(c).TenantID, opt)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, listOf(items, next, toJSON))
	return nil
}

// getScoped answers one resource of the caller's tenant; another tenant's is NOT_FOUND, as the store says.
func getScoped[V, T any](c *gin.Context, get func(ctx context.Context, tenantID, id string) (V, error), id string,
	toJSON func(V) T,
) error {
	v, err := get(c.Request.Context(), principalOf(c).TenantID, id)
	if err != nil {
		return err
	}
	c.JSON(http.StatusOK, toJSON(v))
	return nil
}

// nonNil makes an absent list an empty JSON array rather than null.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
