package main

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/workflows"
)

// floorWorkflowType names floorWorkflow in the worker.
const floorWorkflowType = "aicc-load.Floor"

// floorWorkflow is the floor's no-op workflow: it receives its signal and returns.
func floorWorkflow(ctx workflow.Context, _ workflows.ConversationInput) error {
	var s workflows.InboxEventsSignal
	workflow.GetSignalChannel(ctx, workflows.SignalInboxEvents).Receive(ctx, &s)
	return nil
}

// floorResult is what the floor measured.
type floorResult struct {
	workflow    string // floorNoop or floorConversation
	concurrency int
	signals     int           // signal-with-start calls answered without error
	errors      int           // calls that failed
	elapsed     time.Duration // of the calls
	completed   int           // of the workflows signalled, those that completed (applied the signal, for Conversation)
	settled     time.Duration // from the first call until the last workflow completed
	history     string        // of the first workflow
	calls       timingSummary // the signal-with-start calls
	commits     commitDelta   // Postgres transactions while the calls ran, by database
	callsCPU    cpuTimes      // while the calls ran
	cpu         cpuTimes      // until the workflows completed
}

// Workflows of the floor (-floor-workflow).
const (
	floorNoop         = "noop"         // floorWorkflow: receives its signal and returns
	floorConversation = "conversation" // the real Conversation workflow: the dispatcher's signals without the inbox
)

// rate is the floor's signals/s.
func (f *floorResult) rate() float64 { return rate(f.signals, f.elapsed) }

// floorCall is one signal-with-start of the floor: the workflow's ID and its conversation.
type floorCall struct {
	id   string
	conv convKey
}

// runFloor signals-with-start new workflows (the no-op one, or Conversation) from concurrency goroutines, each
// call after the previous one, for d or until n calls were made (n 0: no limit). Each call carries what the
// dispatcher's carries for one event (the conversation's input, one event's signal) with the options it uses
// (task queue, search attributes, conflict and reuse policies), to a new workflow, as every conversation of
// backlog-1 is new. Then it waits until every workflow has completed (Conversation: has saved its read model),
// so that none of their workflow tasks runs into the next phase.
func (s *stack) runFloor(ctx context.Context, workflow string, concurrency int, d time.Duration, n int) (*floorResult, error) {
	res := &floorResult{workflow: workflow, concurrency: concurrency}
	cpu := startCPU()
	s.signals.take()
	before := s.pg.commits(ctx)
	var next, failed atomic.Int64
	calls := make([][]floorCall, concurrency)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			for time.Now().Before(deadline) && ctx.Err() == nil {
				i := next.Add(1) - 1
				if n > 0 && i >= int64(n) {
					return
				}
				in, sig := floorPayload(s.tenant, s.self.channel, s.self.pages[int(i)%len(s.self.pages)], i)
				c := floorCall{id: "load-floor/" + s.runID + "/" + strconv.FormatInt(i, 10), conv: convKey{in.PageID, in.PSID}}
				workflowType := floorWorkflowType
				if workflow == floorConversation {
					c.id, workflowType = workflows.ConversationWorkflowID(in.ChannelID, in.PageID, in.PSID), workflows.ConversationWorkflowType
				}
				_, err := s.temporal.SignalWithStartWorkflow(ctx, c.id, workflows.SignalInboxEvents, sig,
					workflows.StartConversationOptions(s.tenant, s.self.channel), workflowType, in)
				if err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						s.logger.Warn("floor: signal-with-start", "Error", err)
					}
					continue
				}
				calls[w] = append(calls[w], c)
			}
		})
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.calls = s.signals.take()
	res.commits = since(before, s.pg.commits(ctx))
	res.callsCPU = cpu.stop()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res.errors = int(failed.Load())

	var all []floorCall
	for _, l := range calls {
		all = append(all, l...)
	}
	res.signals = len(all)
	var err error
	if workflow == floorConversation {
		res.completed, err = s.waitFloorApplied(ctx, all)
	} else {
		res.completed = s.waitFloorCompleted(ctx, all, concurrency)
	}
	res.settled = time.Since(start)
	res.cpu = cpu.stop()
	if len(all) > 0 {
		res.history = s.historyOf(ctx, all[0].id)
	}
	return res, err
}

// waitFloorCompleted waits until the no-op workflows of calls have completed, and returns how many did.
func (s *stack) waitFloorCompleted(ctx context.Context, calls []floorCall, concurrency int) int {
	var done atomic.Int64
	work := make(chan string)
	var waiters sync.WaitGroup
	for range concurrency {
		waiters.Go(func() {
			for id := range work {
				if err := s.temporal.GetWorkflow(ctx, id, "").Get(ctx, nil); err != nil {
					s.logger.Warn("floor: workflow", "WorkflowID", id, "Error", err)
					continue
				}
				done.Add(1)
			}
		})
	}
	for _, c := range calls {
		work <- c.id
	}
	close(work)
	waiters.Wait()
	return int(done.Load())
}

// waitFloorApplied waits until the Conversation workflows of calls have saved their read model, and returns how
// many did.
func (s *stack) waitFloorApplied(ctx context.Context, calls []floorCall) (int, error) {
	want := make(map[convKey]int, len(calls))
	for _, c := range calls {
		want[c.conv] = 1
	}
	check, _, err := waitApplied(ctx, s.store, s.self.channel, want, floorApplyTimeout)
	return check.matched, err
}

// floorApplyTimeout bounds the wait for the floor's Conversation workflows.
const floorApplyTimeout = 10 * time.Minute

// floorPayload is the input and the signal of the floor's i-th call: a new conversation's, with one event.
func floorPayload(tenant, channel, page string, i int64) (workflows.ConversationInput, workflows.InboxEventsSignal) {
	now := time.Now()
	customer := psid(floorCustomers + int(i))
	in := workflows.ConversationInput{TenantID: tenant, ChannelID: channel, PageID: page, PSID: customer}
	return in, workflows.InboxEventsSignal{Events: []workflows.InboxEventSignal{{
		InboxID: i + 1, Kind: aicc.EventMessage, MID: "m_floor_" + strconv.FormatInt(i, 10),
		Timestamp: now.UnixMilli(), Text: "load message " + strconv.FormatInt(i, 10), At: now,
	}}}
}

// floorCustomers numbers the floor's customers, apart from every phase's (phaseCustomers).
const floorCustomers = 900_000_000
