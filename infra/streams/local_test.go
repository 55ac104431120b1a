package streams

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// The integration tests run against a real DynamoDB Local (its Streams API) and a
// real moto server (SQS), installed under the repository's .cache/ by the project's
// installer. When they are not installed the tests fail if CI is set and are skipped
// otherwise.

type localServices struct {
	ddbURL, sqsURL string
	stop           []func()
}

var (
	servicesOnce sync.Once
	services     *localServices
	servicesErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if services != nil {
		for _, f := range services.stop {
			f()
		}
	}
	os.Exit(code)
}

// needLocalServices starts DynamoDB Local and moto once for the package's tests.
func needLocalServices(t *testing.T) *localServices {
	t.Helper()
	servicesOnce.Do(func() { services, servicesErr = startLocalServices() })
	if servicesErr != nil {
		msg := "DynamoDB Local / moto not available: " + servicesErr.Error() +
			" (install them into .cache/ with the project's installer: mvn -q -f infra/dynamodb-local/pom.xml dependency:copy-dependencies -DoutputDirectory=.cache/dynamodb-local-<version>, and moto[server] into .cache/moto-<version>)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return services
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}

func startLocalServices() (*localServices, error) {
	root, err := repoRoot()
	if err != nil {
		return nil, err
	}
	s := &localServices{}
	fail := func(err error) (*localServices, error) {
		for _, f := range s.stop {
			f()
		}
		return nil, err
	}

	// DynamoDB Local: .cache/dynamodb-local-*/ holding DynamoDBLocal*.jar and the
	// sqlite4java native library.
	java, err := exec.LookPath("java")
	if err != nil {
		return fail(fmt.Errorf("java not on PATH"))
	}
	var ddbDir string
	dirs, _ := filepath.Glob(filepath.Join(root, ".cache", "dynamodb-local-*"))
	for _, d := range dirs {
		jars, _ := filepath.Glob(filepath.Join(d, "DynamoDBLocal*.jar"))
		if _, err := os.Stat(filepath.Join(d, "libsqlite4java-linux-amd64.so")); err == nil && len(jars) > 0 {
			ddbDir = d
		}
	}
	if ddbDir == "" {
		return fail(fmt.Errorf("no .cache/dynamodb-local-*/ with DynamoDBLocal*.jar and libsqlite4java-linux-amd64.so under %s", root))
	}
	motos, _ := filepath.Glob(filepath.Join(root, ".cache", "moto-*", "bin", "moto_server"))
	if len(motos) == 0 {
		return fail(fmt.Errorf("no .cache/moto-*/bin/moto_server under %s", root))
	}

	ddbPort, err := freePort()
	if err != nil {
		return fail(err)
	}
	// C1-only JIT and the serial GC roughly halve the JVM's start-up for a short test run.
	stop, err := startProcess("dynamodb-local", java, "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC",
		"-Djava.library.path="+ddbDir, "-cp", filepath.Join(ddbDir, "*"),
		"software.amazon.dynamodb.services.local.main.ServerRunner", "-inMemory", "-disableTelemetry", "-port", fmt.Sprint(ddbPort))
	if err != nil {
		return fail(err)
	}
	s.stop = append(s.stop, stop)
	motoPort, err := freePort()
	if err != nil {
		return fail(err)
	}
	stop, err = startProcess("moto", motos[len(motos)-1], "-H", "127.0.0.1", "-p", fmt.Sprint(motoPort))
	if err != nil {
		return fail(err)
	}
	s.stop = append(s.stop, stop)
	s.ddbURL = fmt.Sprintf("http://127.0.0.1:%d", ddbPort)
	s.sqsURL = fmt.Sprintf("http://127.0.0.1:%d", motoPort)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for {
		_, err := ddbClient(s).ListTables(ctx, &dynamodb.ListTablesInput{})
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("DynamoDB Local did not start: %v", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	for {
		resp, err := http.Get(s.sqsURL + "/moto-api/")
		if err == nil {
			resp.Body.Close()
			break
		}
		if ctx.Err() != nil {
			return fail(fmt.Errorf("moto did not start: %v", err))
		}
		time.Sleep(100 * time.Millisecond)
	}
	return s, nil
}

func startProcess(name, bin string, args ...string) (func(), error) {
	logf, err := os.CreateTemp("", name+"-*.log")
	if err != nil {
		return nil, err
	}
	// Run in a scratch directory: DynamoDB Local writes dynamodb-local-metadata.json
	// into its working directory even with -inMemory.
	dir, err := os.MkdirTemp("", name+"-*")
	if err != nil {
		logf.Close()
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	dieWithParent(cmd)
	if err := cmd.Start(); err != nil {
		logf.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	return func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		logf.Close()
		os.Remove(logf.Name())
		os.RemoveAll(dir)
	}, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

var localCreds = credentials.NewStaticCredentialsProvider("local", "local", "")

func ddbClient(s *localServices) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.ddbURL), Credentials: localCreds})
}

func streamsClient(s *localServices) *dynamodbstreams.Client {
	return dynamodbstreams.New(dynamodbstreams.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.ddbURL), Credentials: localCreds})
}

func sqsClient(s *localServices) *sqs.Client {
	return sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(s.sqsURL), Credentials: localCreds})
}
