package chaos

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/batonhq/baton/test/harness"
)

var (
	stepOnce sync.Once
	stepPath string
	stepErr  error
)

// stepBinary builds the chaos step program once per test process, static so
// that it also runs in the FROM-scratch image.
func stepBinary(t testing.TB) string {
	t.Helper()
	stepOnce.Do(func() {
		dir := filepath.Join(os.TempDir(), "baton-test-bin", filepath.Base(os.Args[0]))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			stepErr = err
			return
		}
		stepPath = filepath.Join(dir, "chaosstep")
		out, err := command(5*time.Minute, harness.Path("."), []string{"CGO_ENABLED=0"},
			"go", "build", "-trimpath", "-o", stepPath+".new", "./test/chaos/chaosstep")
		if err != nil {
			stepErr = fmt.Errorf("go build ./test/chaos/chaosstep: %v\n%s", err, out)
			return
		}
		stepErr = os.Rename(stepPath+".new", stepPath)
	})
	if stepErr != nil {
		t.Fatal(stepErr)
	}
	return stepPath
}

// command runs name with args in dir and returns its combined output.
func command(timeout time.Duration, dir string, env []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s %s: no answer within %s", name, strings.Join(args, " "), timeout)
	}
	return out.String(), err
}

func docker(timeout time.Duration, args ...string) (string, error) {
	return command(timeout, "", nil, "docker", args...)
}

// suffix makes this test process's docker names unique on a shared daemon.
var suffix = fmt.Sprintf("%d-%06x", os.Getpid(), rand.Uint32()&0xffffff)

// dockerLabel marks every image, container, volume and network this process
// creates, so cleanup can find them by label even after a crash mid-test.
var dockerLabel = "baton.chaos=" + suffix

var (
	imageOnce sync.Once
	imageTag  string
	baseTag   string
	imageErr  error
	imageMu   sync.Mutex
	imageUsed bool
)

// chaosImage builds the server image the way ops/docker/build.sh ships it,
// then an image on top of it that adds the chaos step program, also as
// /bin/sh. No registry is involved: both builds start from scratch or from
// the local base image.
func chaosImage(t *testing.T) string {
	t.Helper()
	imageOnce.Do(func() {
		imageMu.Lock()
		imageUsed = true
		imageMu.Unlock()
		baseTag = "baton-chaos-base:" + suffix
		imageTag = "baton-chaos:" + suffix
		if out, err := command(10*time.Minute, harness.Path("."), nil, harness.Path("ops/docker/build.sh"), baseTag); err != nil {
			imageErr = fmt.Errorf("ops/docker/build.sh %s: %v\n%s", baseTag, err, out)
			return
		}
		ctx, err := os.MkdirTemp("", "baton-chaos-image-")
		if err != nil {
			imageErr = err
			return
		}
		defer os.RemoveAll(ctx)
		bin, err := os.ReadFile(stepBinary(t))
		if err != nil {
			imageErr = err
			return
		}
		if err := os.WriteFile(filepath.Join(ctx, "chaosstep"), bin, 0o755); err != nil {
			imageErr = err
			return
		}
		dockerfile := "FROM " + baseTag + "\n" +
			"COPY chaosstep /chaos/step\n" +
			"COPY chaosstep /bin/sh\n" +
			"LABEL " + dockerLabel + "\n"
		if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
			imageErr = err
			return
		}
		if out, err := docker(5*time.Minute, "build", "-q", "-t", imageTag, ctx); err != nil {
			imageErr = fmt.Errorf("docker build %s: %v\n%s", imageTag, err, out)
		}
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return imageTag
}

// removeImages deletes what chaosImage built; TestMain calls it once every
// container is gone.
func removeImages() {
	imageMu.Lock()
	used := imageUsed
	imageMu.Unlock()
	if !used {
		return
	}
	for _, tag := range []string{imageTag, baseTag} {
		if out, err := docker(time.Minute, "image", "rm", "-f", tag); err != nil && !strings.Contains(out, "No such image") {
			fmt.Fprintf(os.Stderr, "chaos: remove image %s: %v\n%s", tag, err, out)
		}
	}
}

// skipOrFail skips a Docker test when Docker is missing, except on CI, where
// a skip would hide that the suite did not run.
func skipOrFail(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true, so this is a failure, not a skip)", msg)
	}
	t.Skipf("%s; the Docker scenarios need a Docker daemon (the process scenarios ran without it)", msg)
}

func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		skipOrFail(t, "docker is not installed")
	}
	if out, err := docker(30*time.Second, "info", "-f", "{{.ServerVersion}}"); err != nil {
		skipOrFail(t, "the Docker daemon is not reachable: %v: %s", err, strings.TrimSpace(out))
	}
}
