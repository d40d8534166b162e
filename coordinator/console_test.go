package coordinator

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// TestConsoleServesPagesDataAndEvents: the console's page and assets are
// embedded and served; its JSON is the state (a job with its tasks, paged);
// the event stream sends the overview and the job live.
func TestConsoleServesPagesDataAndEvents(t *testing.T) {
	s := startLeader(t, func(cfg *Config) { cfg.HTTPAddr = "127.0.0.1:0" })
	conn := dial(t, s.Addr())
	sub := callRetry(t, func(ctx context.Context) (*pb.SubmitJobResponse, error) {
		return pb.NewJobServiceClient(conn).SubmitJob(ctx, &pb.SubmitJobRequest{Spec: noopSpec("console", 250)})
	})
	base := "http://" + s.HTTPAddr()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	for path, want := range map[string]string{"/ui/": "<title>nightshift</title>", "/ui/static/app.js": "EventSource", "/ui/static/style.css": "progress", "/ui/login": "API token"} {
		if code, body := get(path); code != 200 || !strings.Contains(body, want) {
			t.Errorf("%s: %d, want 200 with %q", path, code, want)
		}
	}
	var jobs consoleJobs
	_, body := get("/ui/api/jobs")
	if err := json.Unmarshal([]byte(body), &jobs); err != nil || jobs.Total != 1 || jobs.Jobs[0].ID != sub.Job.Id || jobs.Jobs[0].TasksTotal != 250 {
		t.Fatalf("jobs: %v %s", err, body)
	}
	var d consoleJobDetail
	_, body = get("/ui/api/jobs/" + sub.Job.Id + "?tasks=3")
	if err := json.Unmarshal([]byte(body), &d); err != nil || d.TaskPages != 3 || d.TaskPage != 3 || len(d.Tasks) != 50 || d.Tasks[0].Index != 200 || d.Counts["pending"] != 250 {
		t.Fatalf("job detail: %v pages %d page %d tasks %d counts %v", err, d.TaskPages, d.TaskPage, len(d.Tasks), d.Counts)
	}
	if code, _ := get("/ui/api/jobs/nope"); code != http.StatusNotFound {
		t.Errorf("unknown job: %d", code)
	}
	callRetry(t, func(ctx context.Context) (*pb.PutScheduleResponse, error) {
		return pb.NewScheduleServiceClient(conn).PutSchedule(ctx, &pb.PutScheduleRequest{Spec: &pb.ScheduleSpec{
			Name: "nightly", Cron: "0 2 * * *", TimeZone: "Europe/Berlin", Pipeline: testPipeline()}})
	})
	var o consoleOverview
	_, body = get("/ui/api/overview")
	if err := json.Unmarshal([]byte(body), &o); err != nil || len(o.Schedules) != 1 || o.Schedules[0].Name != "nightly" || o.Schedules[0].NextUnixMs == 0 ||
		o.Jobs["pending"]+o.Jobs["running"] != 1 || len(o.Queue) == 0 {
		t.Fatalf("overview: %v %s", err, body)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", base+"/ui/events?job="+sub.Job.Id, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("events content type %q", ct)
	}
	events := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() && len(events) < 2 {
		if name, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			events[name] = true
		}
	}
	if !events["overview"] || !events["job"] {
		t.Fatalf("events %v, want overview and job", events)
	}
}

// TestConsoleNeedsATokenWhenTokensAreOn: with tokens on, the page sends
// to the login form and the API (every page's JSON, the event stream)
// answers 401; a bad token is refused with nothing more said; a good one
// sets an HttpOnly cookie that opens the console; repeated failures are
// rate limited.
func TestConsoleNeedsATokenWhenTokensAreOn(t *testing.T) {
	s := startLeader(t, func(cfg *Config) { cfg.HTTPAddr, cfg.Tokens = "127.0.0.1:0", TokensRequired })
	boot := callRetry(t, func(ctx context.Context) (*pb.CreateTokenResponse, error) {
		return pb.NewTokenServiceClient(dial(t, s.Addr())).BootstrapToken(ctx, &pb.BootstrapTokenRequest{Name: "ops"})
	})
	base := "http://" + s.HTTPAddr()
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(base + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/login" {
		t.Fatalf("/ui/ without a cookie: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	for _, path := range []string{"/ui/api/overview", "/ui/api/jobs/x", "/ui/api/models/churn", "/ui/api/runs/nightly@2026-12-04T02:00:00Z",
		"/ui/api/schedules/nightly", "/ui/events?model=churn"} {
		if resp, _ := http.Get(base + path); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%s without a cookie: %d", path, resp.StatusCode)
		}
	}
	forged := &http.Client{}
	reqF, _ := http.NewRequest("GET", base+"/ui/api/overview", nil)
	reqF.AddCookie(&http.Cookie{Name: consoleCookie, Value: boot.Secret + "x"})
	if resp, _ := forged.Do(reqF); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a forged cookie: %d", resp.StatusCode)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	resp, err = c.PostForm(base+"/ui/login", url.Values{"token": {"nst_abc_def"}})
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(string(body)) != "token refused" {
		t.Fatalf("a bad login: %d %q", resp.StatusCode, body)
	}
	resp, err = c.PostForm(base+"/ui/login", url.Values{"token": {boot.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	u, _ := url.Parse(base + "/ui/")
	if cookies := jar.Cookies(u); len(cookies) != 1 || cookies[0].Name != consoleCookie {
		t.Fatalf("cookies after login: %v", cookies)
	}
	if resp, _ := c.Get(base + "/ui/api/overview"); resp.StatusCode != http.StatusOK {
		t.Fatalf("api with the cookie: %d", resp.StatusCode)
	}
	// Five tries are allowed (two used), then 429.
	codes := []int{}
	for range 5 {
		resp, _ := http.PostForm(base+"/ui/login", url.Values{"token": {"nst_x_y"}})
		codes = append(codes, resp.StatusCode)
		resp.Body.Close()
	}
	if codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Fatalf("login codes %v, want 429 at the end", codes)
	}
}

// TestConsoleActions: an action needs the console header, the token's
// role for the gRPC method it stands for (a read token may not drain),
// reaches the state (a drained worker, a cancelled job) and records who.
func TestConsoleActions(t *testing.T) {
	s := startLeader(t, func(cfg *Config) { cfg.HTTPAddr, cfg.Tokens = "127.0.0.1:0", TokensRequired })
	conn := dial(t, s.Addr())
	tokens := pb.NewTokenServiceClient(conn)
	boot := callRetry(t, func(ctx context.Context) (*pb.CreateTokenResponse, error) {
		return tokens.BootstrapToken(ctx, &pb.BootstrapTokenRequest{Name: "ops"})
	})
	root := metadataCtx(boot.Secret)
	reader, err := tokens.CreateToken(root, &pb.CreateTokenRequest{Name: "rita", Role: "read"})
	if err != nil {
		t.Fatal(err)
	}
	callRetry(t, func(ctx context.Context) (*pb.RegisterResponse, error) {
		return pb.NewWorkerServiceClient(conn).Register(ctx, &pb.RegisterRequest{Worker: &pb.Worker{Id: "w1", Slots: 1}})
	})
	sub, err := pb.NewJobServiceClient(conn).SubmitJob(root, &pb.SubmitJobRequest{Spec: noopSpec("c", 2)})
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + s.HTTPAddr()
	post := func(token, path string, header bool) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", base+path, nil)
		req.AddCookie(&http.Cookie{Name: consoleCookie, Value: token})
		if header {
			req.Header.Set(consoleActionHeader, "1")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(body))
	}
	if code, _ := post(boot.Secret, "/ui/api/workers/w1/drain", false); code != http.StatusForbidden {
		t.Fatalf("without the console header: %d", code)
	}
	if code, body := post(reader.Secret, "/ui/api/workers/w1/drain", true); code != http.StatusForbidden || !strings.Contains(body, "needs a token of role operate") {
		t.Fatalf("a read token drains: %d %q", code, body)
	}
	if code, body := post(boot.Secret, "/ui/api/workers/w1/drain", true); code != http.StatusNoContent {
		t.Fatalf("drain: %d %q", code, body)
	}
	if w := s.store.Snapshot().Worker("w1"); w.State != pb.WorkerState_WORKER_STATE_DRAINING {
		t.Fatalf("worker %s after the drain", w.State)
	}
	if code, body := post(boot.Secret, "/ui/api/jobs/"+sub.Job.Id+"/cancel", true); code != http.StatusNoContent {
		t.Fatalf("cancel: %d %q", code, body)
	}
	j := s.store.Snapshot().Job(sub.Job.Id)
	if j.State != pb.JobState_JOB_STATE_CANCELLED || !strings.Contains(j.Error+fmt.Sprint(j.Events), "by ops: from the console") {
		t.Fatalf("job %s after the cancel, recorded %q %v", j.State, j.Error, j.Events)
	}
	if code, _ := post(boot.Secret, "/ui/api/jobs/nope/cancel", true); code != http.StatusNotFound {
		t.Fatalf("cancel an unknown job: %d", code)
	}
}

func metadataCtx(token string) context.Context {
	return metadata.AppendToOutgoingContext(context.Background(), rpc.AuthorizationHeader, rpc.BearerHeader(token))
}

// consoleServer serves the console over a harness's state (tokens off),
// for the detail pages' tests, at base; get returns a path's status and
// body.
func consoleServer(t *testing.T, h *fsmHarness) (s *Server, base string, get func(path string) (int, string)) {
	t.Helper()
	s = &Server{store: h.store, cfg: Config{Tokens: TokensOff}, timelines: newTimelineCache()}
	mux := http.NewServeMux()
	s.consoleRoutes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return s, srv.URL, func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
}

// getJSON decodes a 200 answer into v.
func getJSON(t *testing.T, get func(string) (int, string), path string, v any) {
	t.Helper()
	code, body := get(path)
	if code != http.StatusOK {
		t.Fatalf("%s: %d %s", path, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// firstEvent reads the event stream of a query until it sends the named
// event, and returns that event's data.
func firstEvent(t *testing.T, url, name string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	current := ""
	for sc.Scan() {
		if ev, ok := strings.CutPrefix(sc.Text(), "event: "); ok {
			current = ev
		} else if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && current == name {
			return data
		}
	}
	t.Fatalf("%s: no %q event", url, name)
	return ""
}

// TestConsoleJobTimelineAndTasks: a job run by 60 workers has a timeline
// of 40 worker rows and an "other" row of the 20 least busy, 60 buckets
// each, whose cells add up to the task-seconds of its succeeded and
// running attempts; the task list filters to the tasks that failed, and
// a page past the end of a filter shows its last page.
func TestConsoleJobTimelineAndTasks(t *testing.T) {
	h := newHarness(t)
	const workers, tasks = 60, 600
	for w := range workers {
		h.register(fmt.Sprintf("w%02d", w))
	}
	h.submit("many", tasks, "")
	start := h.now
	var ops []*pb.TaskOp
	for i := range int32(tasks) {
		ops = append(ops, leaseOp("many", i, fmt.Sprintf("w%02d", i%workers), false))
	}
	h.ops(ops...)
	// Three tasks fail once (retried: pending again), 500 succeed after
	// 30 s of work, the rest run on.
	h.now += 1000
	h.ops(failOp("many", 0, 1, "w00", false), failOp("many", 1, 1, "w01", false), failOp("many", 2, 1, "w02", false))
	h.now = start + 60_000
	ops = nil
	for i := int32(3); i < 503; i++ {
		op := succeedOp("many", i, 1, fmt.Sprintf("w%02d", i%workers), "o")
		op.GetSucceed().Result.DurationMs = 30_000
		ops = append(ops, op)
	}
	h.ops(ops...)
	s, _, get := consoleServer(t, h)
	now := time.UnixMilli(start + 120_000)
	d, ok := s.consoleJobDetail("many", 1, "", now)
	if !ok {
		t.Fatal("no job")
	}
	tl := d.Timeline
	if tl == nil || len(tl.Rows) != consoleTimelineRows+1 || tl.Workers != workers || tl.Rows[len(tl.Rows)-1].Others != workers-consoleTimelineRows {
		t.Fatalf("timeline: %+v", tl)
	}
	var sum int64
	for _, r := range tl.Rows {
		if len(r.BusyMs) != consoleTimelineBuckets {
			t.Fatalf("row %s has %d buckets", r.Worker, len(r.BusyMs))
		}
		sum += r.TotalMs
	}
	// 500 successes of 30 s, 97 attempts running for 120 s since the lease.
	if want := int64(500*30_000 + 97*120_000); sum != want {
		t.Fatalf("timeline holds %v task-seconds, want %v", sum, want)
	}
	if d.Counts["succeeded"] != 500 || d.Counts["running"] != 97 || d.Counts["pending"] != 3 {
		t.Fatalf("counts %v", d.Counts)
	}
	var page consoleJobDetail
	getJSON(t, get, "/ui/api/jobs/many?filter=errors&tasks=9", &page)
	if page.Filter != "errors" || page.Matched != 3 || page.TaskPage != 1 || page.TaskPages != 1 || len(page.Tasks) != 3 ||
		page.Tasks[0].Failures != 1 || !strings.Contains(page.Tasks[0].Error, "boom") {
		t.Fatalf("errors filter: %+v", page)
	}
	page = consoleJobDetail{}
	getJSON(t, get, "/ui/api/jobs/many?filter=succeeded&tasks=5", &page)
	if page.Matched != 500 || page.TaskPage != 5 || len(page.Tasks) != 100 || page.Tasks[0].Index != 403 ||
		page.Tasks[0].Worker == "" || page.Tasks[0].DurationMs != 30_000 || page.Tasks[0].FinishUnixMs != start+60_000 {
		t.Fatalf("succeeded filter, page 5: matched %d page %d tasks %d first %+v", page.Matched, page.TaskPage, len(page.Tasks), page.Tasks[0])
	}
	page = consoleJobDetail{}
	getJSON(t, get, "/ui/api/jobs/many?filter=bogus", &page)
	if page.Filter != "" || page.Matched != tasks || page.Timeline == nil {
		t.Fatalf("an unknown filter: %q matched %d", page.Filter, page.Matched)
	}
}

// TestConsoleTrainingJob: a training job's page has its generation and
// members by rank, its epochs' loss and holdout metrics, and once it
// registered a version, the evaluation against production with the
// policy's margin, the decision and its worst 50 slices, worst first.
func TestConsoleTrainingJob(t *testing.T) {
	h := newHarness(t)
	for _, w := range []string{"w1", "w2"} {
		h.register(w)
	}
	h.registerModel(modelVersion("churn", "", map[string]float64{"logloss": 0.40}), nil) // production v1
	sp := &pb.TrainSpec{ModelName: "churn", MinMembers: 1, MaxMembers: 2, Holdout: 0.2,
		Promotion: &pb.PromotionPolicy{Metric: "logloss", Margin: proto.Float64(0.01)}}
	if r := h.apply(&pb.Command{Op: &pb.Command_SubmitJob{SubmitJob: &pb.SubmitJob{
		Job: &pb.Job{Id: "tj", Spec: &pb.JobSpec{Kind: &pb.JobSpec_Train{Train: sp}}, Train: &pb.TrainStatus{}}, TaskCount: 2}}}); r.err != nil {
		t.Fatal(r.err)
	}
	h.ops(leaseOp("tj", 0, "w1", false), leaseOp("tj", 1, "w2", false))
	h.generation("tj", 1, &pb.GroupMember{WorkerId: "w1", Task: 0, Attempt: 1}, &pb.GroupMember{WorkerId: "w2", Task: 1, Attempt: 1})
	for e := range int32(3) {
		h.apply(&pb.Command{Op: &pb.Command_TrainProgress{TrainProgress: &pb.TrainProgress{JobId: "tj", Generation: 1, Step: int64(10 * (e + 1)), Epoch: e,
			EpochMetrics: &pb.EpochMetrics{Epoch: e, Step: int64(10 * (e + 1)), TrainLoss: 0.5 - 0.05*float64(e),
				Holdout: map[string]float64{"logloss": 0.45 - 0.04*float64(e), "auc": 0.7 + 0.05*float64(e)}}}}})
	}
	s, _, get := consoleServer(t, h)
	var d consoleJobDetail
	getJSON(t, get, "/ui/api/jobs/tj", &d)
	if d.Train == nil || d.Train.Generation != 1 || len(d.Train.Members) != 2 || d.Train.Members[1].Rank != 1 || d.Train.Members[1].Worker != "w2" {
		t.Fatalf("train: %+v", d.Train)
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if len(d.Epochs) != 3 || !near(*d.Epochs[2].TrainLoss, 0.4) || !near(d.Epochs[2].Holdout["auc"], 0.8) || d.Train.Evaluation != nil {
		t.Fatalf("epochs %+v", d.Epochs)
	}
	// It finishes: the challenger beats v1 by 0.03 on the same rows.
	ev := &pb.Evaluation{Metric: "logloss", Rows: 1000, ChampionVersion: 1, Challenger: map[string]float64{"logloss": 0.37, "auc": 0.8},
		Champion: map[string]float64{"logloss": 0.40, "auc": 0.78}, Gain: 0.03}
	for i := range 60 {
		ev.Slices = append(ev.Slices, &pb.SliceMetrics{Column: "plan", Value: fmt.Sprint(i), Rows: 10,
			Challenger: map[string]float64{"logloss": 0.3 + float64(i)/1000}, Champion: map[string]float64{"logloss": 0.33}})
	}
	h.ops(&pb.TaskOp{JobId: "tj", Task: 0, Attempt: 1, WorkerId: "w1", Op: &pb.TaskOp_Succeed{Succeed: &pb.SucceedOp{Result: &pb.TaskResult{
		Train: &pb.TrainResult{ArtifactUri: "file:///m/churn/job-tj", Metrics: ev.Challenger, Steps: 30, Evaluation: ev}}}}})
	d, _ = s.consoleJobDetail("tj", 1, "", time.Now())
	e := d.Train.Evaluation
	if d.Train.Registered != "churn@v2" || !d.Train.Promoted || e == nil || e.Gain == nil || *e.Gain != 0.03 || e.Margin == nil || *e.Margin != 0.01 ||
		!e.Promoted || !strings.HasPrefix(e.Decision, "v2 promoted to production") || e.ChampionVersion != 1 || e.ChallengerVersion != 2 {
		t.Fatalf("evaluation: registered %s %+v", d.Train.Registered, e)
	}
	if len(e.Slices) != consoleSlicesShown || e.SlicesTotal != 60 || e.Slices[0].Value != "59" || *e.Slices[0].Gain > *e.Slices[1].Gain {
		t.Fatalf("slices: %d of %d, first %+v", len(e.Slices), e.SlicesTotal, e.Slices[0])
	}
	if _, err := json.Marshal(d); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleModelPage: a model's page shows its newest 50 versions with
// their aliases and the decision on each, its history newest first with
// who made each change, one version's evaluation; an unknown model is
// 404; the event stream pushes the page.
func TestConsoleModelPage(t *testing.T) {
	h := newHarness(t)
	h.registerModel(modelVersion("churn", "", map[string]float64{"logloss": 0.40}), nil)
	for i := range 54 {
		h.registerCompared(modelVersion("churn", "", map[string]float64{"logloss": 0.40 - float64(i+1)/1000}))
	}
	if r := h.apply(&pb.Command{Op: &pb.Command_SetModelAlias{SetModelAlias: &pb.SetModelAlias{
		Name: "churn", Alias: aliasProduction, Rollback: true, Reason: "bad night", Actor: "ops"}}}); r.err != nil {
		t.Fatal(r.err)
	}
	_, base, get := consoleServer(t, h)
	var m consoleModelDetail
	getJSON(t, get, "/ui/api/models/churn", &m)
	if m.Production != 54 || m.Candidate != 55 || m.VersionsTotal != 55 || len(m.Versions) != consoleVersionsShown || m.Versions[0].Version != 55 {
		t.Fatalf("model: production v%d candidate v%d, %d of %d versions", m.Production, m.Candidate, len(m.Versions), m.VersionsTotal)
	}
	v55, v54 := m.Versions[0], m.Versions[1]
	if !slices.Equal(v55.Aliases, []string{"candidate"}) || !v55.Promoted || !strings.HasPrefix(v55.Decision, "v55 promoted to production:") ||
		!slices.Equal(v54.Aliases, []string{"production"}) || v55.Metric != "logloss" || v55.Gain == nil {
		t.Fatalf("versions: %+v %+v", v55, v54)
	}
	if len(m.Events) != consoleModelEventsShown || m.Events[0].Who != "ops" || !strings.Contains(m.Events[0].Message, "rolled back from v55 to v54") ||
		m.Events[1].Who != "policy" {
		t.Fatalf("events: %d, newest %+v %+v", len(m.Events), m.Events[0], m.Events[1])
	}
	if m.Selected != 55 || m.Evaluation == nil || m.Evaluation.ChampionVersion != 54 {
		t.Fatalf("selected v%d evaluation %+v", m.Selected, m.Evaluation)
	}
	m = consoleModelDetail{}
	getJSON(t, get, "/ui/api/models/churn?version=3", &m)
	if m.Selected != 3 || m.Evaluation.ChampionVersion != 2 || !strings.HasPrefix(m.Evaluation.Decision, "v3 promoted to production:") {
		t.Fatalf("version 3: selected v%d %+v", m.Selected, m.Evaluation)
	}
	if code, _ := get("/ui/api/models/nope"); code != http.StatusNotFound {
		t.Fatalf("unknown model: %d", code)
	}
	if data := firstEvent(t, base+"/ui/events?model=churn", "model"); !strings.Contains(data, `"name":"churn"`) {
		t.Fatalf("model event: %.200s", data)
	}
	for msg, who := range map[string]string{
		"v3 promoted to production by hand (was v2) by alice: looks good":   "alice",
		"v3 promoted to production by hand (was v2)":                        "",
		"v3 stays candidate: logloss 0.3 does not beat v2's by margin 0.01": "policy",
		"production v2 is decaying: its logloss …":                          "policy",
		"production rolled back from v3 to v2 by bob":                       "bob",
	} {
		if got := eventActor(msg); got != who {
			t.Errorf("eventActor(%q) = %q, want %q", msg, got, who)
		}
	}
}

// TestConsoleRunAndSchedulePages: a run stopped by its data gate shows
// its steps, the report's violations and drift worst first and why it did
// not promote; a run that trained shows the promote step's evaluation
// and decision; the schedule's page lists its next slots and its runs
// with why; unknown runs and schedules are 404; the event stream pushes
// the run page.
func TestConsoleRunAndSchedulePages(t *testing.T) {
	h := newHarness(t)
	h.now = t0
	p := testPipeline()
	p.Train = &pb.TrainSpec{ModelName: "churn", Output: "file:///m", Label: "label", Model: &pb.ModelConfig{Family: "logistic"},
		Promotion: &pb.PromotionPolicy{Metric: "logloss", Margin: proto.Float64(0.002)}}
	if res := h.apply(&pb.Command{Op: &pb.Command_PutSchedule{PutSchedule: &pb.PutSchedule{Spec: &pb.ScheduleSpec{
		Name: "nightly", Cron: "* * * * *", Pipeline: p, Policy: &pb.SchedulePolicy{Catchup: "all", Overlap: "buffer_all", CatchupWindowS: 3600, PauseAfterFailures: 5},
	}}}}); res.err != nil {
		t.Fatal(res.err)
	}
	h.tick("nightly", t0+minute)
	gated := h.run("nightly", t0+minute).Id
	P, R, S, F := pb.StepState_STEP_STATE_PENDING, pb.StepState_STEP_STATE_RUNNING, pb.StepState_STEP_STATE_SUCCEEDED, pb.StepState_STEP_STATE_FAILED
	report := &pb.ValidationReport{Dataset: "file:///ds/x", Reference: "churn@v1", Verdict: pb.Severity_SEVERITY_FAIL, Summary: "plan: unseen values",
		Violations: []*pb.Violation{
			{Column: "age", Rule: "max_null_fraction", Observed: "0.2", Allowed: "0.01", Severity: pb.Severity_SEVERITY_WARN},
			{Column: "plan", Rule: "allowed", Observed: "60% unseen", Allowed: "5%", Severity: pb.Severity_SEVERITY_FAIL},
		},
		Drift: []*pb.ColumnDriftResult{
			{Column: "age", Metric: "psi", Value: 0.05, Severity: pb.Severity_SEVERITY_OK},
			{Column: "income", Metric: "psi", Value: 0.4, Severity: pb.Severity_SEVERITY_FAIL},
			{Column: "plan", Metric: "js", Value: 0.15, Severity: pb.Severity_SEVERITY_WARN},
		}}
	for _, res := range []*applyResult{
		h.step(gated, stepIngest, P, R, func(c *pb.RunStep) { c.JobId = "ingest-job" }),
		h.step(gated, stepIngest, R, S, func(c *pb.RunStep) { c.DatasetUri, c.DatasetFingerprint = "file:///ds/x", "sha256:ab" }),
		h.step(gated, stepValidate, P, F, func(c *pb.RunStep) {
			c.Error, c.Permanent, c.Validation = "the data gate failed: plan: unseen values", true, report
		}),
	} {
		if res.err != nil {
			t.Fatal(res.err)
		}
	}
	h.tick("nightly", t0+2*minute)
	trained := h.run("nightly", t0+2*minute).Id
	h.finishRun(trained)
	ev := &pb.Evaluation{Metric: "logloss", Rows: 500, ChampionVersion: 1, Challenger: map[string]float64{"logloss": 0.399},
		Champion: map[string]float64{"logloss": 0.40}, Gain: 0.001}
	reason := "v2 stays candidate: logloss 0.399 does not beat v1's 0.400 on the same 500 rows by margin 0.002"
	for _, res := range []*applyResult{
		h.step(trained, stepTrain, P, R, func(c *pb.RunStep) { c.JobId = "train-job" }),
		h.step(trained, stepTrain, R, S, func(c *pb.RunStep) { c.ModelName, c.ModelVersion = "churn", 2 }),
		h.step(trained, stepPromote, P, S, func(c *pb.RunStep) {
			c.ModelName, c.ModelVersion, c.PromotionReason, c.Evaluation = "churn", 2, reason, ev
		}),
	} {
		if res.err != nil {
			t.Fatal(res.err)
		}
	}
	_, base, get := consoleServer(t, h)

	var r consoleRunDetail
	getJSON(t, get, "/ui/api/runs/"+url.PathEscape(gated), &r)
	v := r.Validation
	if r.ID != gated || r.State != "failed" || !strings.HasPrefix(r.Why, "not promoted: the validate step failed: the data gate failed") ||
		len(r.Steps) != 5 || r.Steps[0].JobID != "ingest-job" || r.Steps[1].State != "failed" || v == nil || v.Verdict != "fail" {
		t.Fatalf("gated run: %+v", r)
	}
	if v.Violations[0].Column != "plan" || v.Violations[0].Severity != "fail" || v.Drift[0].Column != "income" || v.Drift[1].Column != "plan" ||
		v.Drift[2].Severity != "ok" || v.DriftTotal != 3 || r.Evaluation != nil {
		t.Fatalf("gated run's report: %+v", v)
	}
	r = consoleRunDetail{}
	getJSON(t, get, "/ui/api/runs/"+url.PathEscape(trained), &r)
	e := r.Evaluation
	if r.Why != reason || r.Promoted || r.Model != "churn@v2" || e == nil || *e.Gain != 0.001 || *e.Margin != 0.002 || e.Decision != reason ||
		e.ChallengerVersion != 2 || r.Validation != nil {
		t.Fatalf("trained run: %+v evaluation %+v", r, e)
	}
	var sc consoleScheduleDetail
	getJSON(t, get, "/ui/api/schedules/nightly", &sc)
	if sc.Name != "nightly" || len(sc.Next) != consoleNextSlots || len(sc.RunsPage) != 2 || sc.More || sc.RunsPage[0].ID != trained ||
		sc.RunsPage[0].Why != reason || !strings.Contains(sc.RunsPage[1].Why, "validate step failed") || len(sc.Events) == 0 {
		t.Fatalf("schedule page: %+v", sc)
	}
	for _, path := range []string{"/ui/api/runs/nope", "/ui/api/schedules/nope", "/ui/api/runs/"} {
		if code, _ := get(path); code != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", path, code)
		}
	}
	if data := firstEvent(t, base+"/ui/events?run="+url.QueryEscape(gated), "run"); !strings.Contains(data, `"verdict":"fail"`) {
		t.Fatalf("run event: %.200s", data)
	}
}
