// The SageMaker backend's requests against the official AWS SDK's: CreateTrainingJob,
// DescribeTrainingJob and StopTrainingJob for the same job are sent by `@aws-sdk/client-sagemaker`
// and by `llmtune sagemaker request` (the backend's own request code) to one loopback server,
// with the same credentials and signing time. Bodies, the JSON-protocol headers and the SigV4
// Authorization must be identical.
//
// The SDK's input is built here from the job file by the rules the API reference gives
// (independently of llmtune): every trainer setting but the container's paths becomes a
// string hyperparameter (String(value), lists as JSON), and so on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawnSync, execFile } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { binary, tempDir } from './server.mjs';
import {
  SageMakerClient,
  CreateTrainingJobCommand,
  DescribeTrainingJobCommand,
  StopTrainingJobCommand,
} from '@aws-sdk/client-sagemaker';

const SIGN_TIME = Date.UTC(2026, 10, 28, 12, 34, 56);  // both sides sign as of this instant
const CREDENTIALS = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

let server, port, dir;
let captured = [];

before(async () => {
  dir = tempDir('llmtune-sm-req-');
  server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      captured.push({ method: req.method, url: req.url, headers: req.headers, body });
      const target = req.headers['x-amz-target'] || '';
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      if (target.endsWith('CreateTrainingJob'))
        res.end(JSON.stringify({ TrainingJobArn: 'arn:aws:sagemaker:eu-west-1:123456789012:training-job/llmtune-ftjob-abc123' }));
      else if (target.endsWith('DescribeTrainingJob'))
        res.end(JSON.stringify({ TrainingJobName: 'llmtune-ftjob-abc123', TrainingJobStatus: 'InProgress', SecondaryStatus: 'Training' }));
      else res.end('{}');
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
});

after(() => {
  server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function job() {
  return {
    job_name: 'llmtune-ftjob-abc123',
    backend: {
      type: 'sagemaker',
      role_arn: 'arn:aws:iam::123456789012:role/llmtune-sagemaker-training',
      image_uri: '123456789012.dkr.ecr.eu-west-1.amazonaws.com/llmtune:cuda',
      instance_type: 'ml.g5.2xlarge',
      instance_count: 1,
      region: 'eu-west-1',
      s3_prefix: 's3://llmtune-bucket/llmtune',
      max_runtime_s: 7200,
      spot: true,
      max_wait_s: 14400,
      endpoint: `http://127.0.0.1:${port}`,
    },
    train_s3_uri: 's3://llmtune-bucket/llmtune/jobs/ftjob-abc123/data/train/',
    validation_s3_uri: 's3://llmtune-bucket/llmtune/jobs/ftjob-abc123/data/validation/',
    model_s3_uri: 's3://llmtune-bucket/llmtune/models/qwen3-0.6b/',
    output_s3_uri: 's3://llmtune-bucket/llmtune/jobs/ftjob-abc123/output/',
    checkpoint_s3_uri: 's3://llmtune-bucket/llmtune/jobs/ftjob-abc123/checkpoints/',
    volume_size_gb: 42,
    tags: { 'llmtune:job': 'ftjob-abc123' },
    // A trainer config in docs/config.md's layout (what the scheduler writes for the job).
    train_config: {
      model: { path: '/models/qwen3-0.6b', dtype: 'bf16', device: 'cuda' },
      lora: { r: 16, alpha: 32, dropout: 0.05, use_rslora: false, target_modules: ['q_proj', 'v_proj'] },
      data: { train: ['/jobs/x/data/train.jsonl'], validation: '/jobs/x/data/valid.jsonl', validation_split: 0,
              max_seq_len: 2048, packing: true, train_on_inputs: false, honour_weights: true },
      training: { method: 'lora', epochs: 3, max_steps: 0, batch_size: 8, gradient_accumulation_steps: 2,
                  learning_rate: 0.0002, lr_scheduler_type: 'cosine', warmup_steps: 0, warmup_ratio: 0.03,
                  min_lr_ratio: 0.1, weight_decay: 0, adam_beta1: 0.9, adam_beta2: 0.999, adam_epsilon: 1e-8,
                  max_grad_norm: 1, seed: 1234, gradient_checkpointing: true },
      eval: { eval_steps: 50, early_stopping_patience: 0, early_stopping_min_delta: 0 },
      output: { dir: '/jobs/x/output', save_steps: 100, save_total_limit: 2 },
      threads: 0,
    },
  };
}

// The container's own paths are not hyperparameters (docs/sagemaker.md).
const CONTAINER_OWNED = new Set(['model.path', 'data.train', 'data.validation', 'output.dir']);

function hyperparameters(config) {
  const out = {};
  for (const [section, value] of Object.entries(config)) {
    const leaves = value !== null && typeof value === 'object' && !Array.isArray(value)
      ? Object.entries(value).map(([k, v]) => [`${section}.${k}`, v])
      : [[section, value]];
    for (const [key, v] of leaves) {
      if (CONTAINER_OWNED.has(key)) continue;
      out[key] = Array.isArray(v) ? JSON.stringify(v) : String(v);
    }
  }
  return out;
}

function metricDefinitions() {
  const r = spawnSync(binary, ['sagemaker', 'metric-definitions'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function sdkCreateInput(j) {
  const b = j.backend;
  return {
    TrainingJobName: j.job_name,
    HyperParameters: hyperparameters(j.train_config),
    AlgorithmSpecification: { TrainingImage: b.image_uri, TrainingInputMode: 'File', MetricDefinitions: metricDefinitions() },
    RoleArn: b.role_arn,
    InputDataConfig: [
      ['train', j.train_s3_uri], ['validation', j.validation_s3_uri], ['model', j.model_s3_uri],
    ].map(([name, uri]) => ({
      ChannelName: name,
      DataSource: { S3DataSource: { S3DataType: 'S3Prefix', S3Uri: uri, S3DataDistributionType: 'FullyReplicated' } },
    })),
    OutputDataConfig: { S3OutputPath: j.output_s3_uri },
    ResourceConfig: { InstanceType: b.instance_type, InstanceCount: b.instance_count, VolumeSizeInGB: j.volume_size_gb },
    StoppingCondition: { MaxRuntimeInSeconds: b.max_runtime_s, MaxWaitTimeInSeconds: b.max_wait_s },
    Tags: Object.entries(j.tags).map(([Key, Value]) => ({ Key, Value })),
    EnableManagedSpotTraining: b.spot,
    CheckpointConfig: { S3Uri: j.checkpoint_s3_uri, LocalPath: '/opt/ml/checkpoints' },
  };
}

// Sends one command with the SDK as of SIGN_TIME; returns the captured request.
async function sdkSend(command, region) {
  const RealDate = Date;
  globalThis.Date = class extends RealDate {
    constructor(...args) { if (args.length === 0) super(SIGN_TIME); else super(...args); }
    static now() { return SIGN_TIME; }
  };
  try {
    const client = new SageMakerClient({ region, endpoint: `http://127.0.0.1:${port}`, credentials: CREDENTIALS, maxAttempts: 1 });
    // The SDK's own bookkeeping headers (invocation id, retry info, user agent) are dropped
    // before signing: llmtune sends none of them, and they would change the signature.
    client.middlewareStack.addRelativeTo((next) => async (args) => {
      for (const h of Object.keys(args.request.headers))
        if (/^(amz-sdk-|x-amz-user-agent$|user-agent$)/i.test(h)) delete args.request.headers[h];
      return next(args);
    }, { relation: 'before', toMiddleware: 'httpSigningMiddleware', name: 'llmtuneTestStripSdkHeaders', step: 'finalizeRequest' });
    captured = [];
    await client.send(command);
    assert.equal(captured.length, 1);
    return captured[0];
  } finally {
    globalThis.Date = RealDate;
  }
}

// Runs `llmtune sagemaker request` asynchronously (the capturing server lives in this process).
function runLlmtune(args, env) {
  return new Promise((resolve) => {
    execFile(binary, args, { encoding: 'utf8', env, timeout: 60000 }, (error, stdout, stderr) => {
      resolve({ status: error ? (typeof error.code === 'number' ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

async function llmtuneSend(operation, jobFile) {
  captured = [];
  const r = await runLlmtune(['sagemaker', 'request', operation, '--job', jobFile, '--time', String(SIGN_TIME / 1000)], {
    PATH: process.env.PATH,
    HOME: dir,  // no shared credentials or config files
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(captured.length, 1, 'llmtune sent exactly one request');
  return { request: captured[0], answer: JSON.parse(r.stdout) };
}

function assertSameRequest(mine, sdk) {
  assert.equal(mine.method, 'POST');
  assert.equal(mine.url, sdk.url);
  assert.deepEqual(JSON.parse(mine.body), JSON.parse(sdk.body), 'bodies as JSON');
  assert.equal(mine.body, sdk.body, 'body bytes (member order as the SDK serializes)');
  for (const h of ['x-amz-target', 'content-type', 'content-length', 'host', 'x-amz-date', 'x-amz-content-sha256', 'authorization'])
    assert.equal(mine.headers[h], sdk.headers[h], h);
  // No header the SDK does not send (after its bookkeeping headers), apart from transport ones.
  const transport = new Set(['connection', 'accept', 'expect']);
  for (const h of Object.keys(mine.headers))
    if (!transport.has(h)) assert.ok(h in sdk.headers, `llmtune sends ${h}, the SDK does not`);
}

test('CreateTrainingJob: body, headers and signature equal the AWS SDK\'s', async () => {
  const j = job();
  const file = join(dir, 'job.json');
  writeFileSync(file, JSON.stringify(j));
  const sdk = await sdkSend(new CreateTrainingJobCommand(sdkCreateInput(j)), j.backend.region);
  const { request, answer } = await llmtuneSend('create', file);
  assertSameRequest(request, sdk);
  assert.equal(request.headers['x-amz-target'], 'SageMaker.CreateTrainingJob');
  assert.equal(request.headers['content-type'], 'application/x-amz-json-1.1');
  assert.match(request.headers.authorization, /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261128\/eu-west-1\/sagemaker\/aws4_request, /);
  assert.match(answer.TrainingJobArn, /training-job\/llmtune-ftjob-abc123$/);
  // The hyperparameters are strings the container reads back (spot-check the tricky ones).
  const hp = JSON.parse(request.body).HyperParameters;
  assert.equal(hp['training.adam_epsilon'], '1e-8');
  assert.equal(hp['lora.target_modules'], '["q_proj","v_proj"]');
  assert.equal(hp['data.packing'], 'true');
  assert.equal(hp['model.path'], undefined);
});

test('CreateTrainingJob without spot or validation', async () => {
  const j = job();
  j.backend.spot = false;
  delete j.backend.max_wait_s;
  delete j.validation_s3_uri;
  delete j.train_config.data.validation;
  const file = join(dir, 'job-ondemand.json');
  writeFileSync(file, JSON.stringify(j));
  const input = sdkCreateInput(j);
  input.InputDataConfig = input.InputDataConfig.filter((c) => c.ChannelName !== 'validation');
  delete input.StoppingCondition.MaxWaitTimeInSeconds;
  const sdk = await sdkSend(new CreateTrainingJobCommand(input), j.backend.region);
  const { request } = await llmtuneSend('create', file);
  assertSameRequest(request, sdk);
  assert.equal(JSON.parse(request.body).EnableManagedSpotTraining, false);
});

test('DescribeTrainingJob and StopTrainingJob equal the AWS SDK\'s', async () => {
  const j = job();
  const file = join(dir, 'job.json');
  writeFileSync(file, JSON.stringify(j));
  let sdk = await sdkSend(new DescribeTrainingJobCommand({ TrainingJobName: j.job_name }), j.backend.region);
  let mine = await llmtuneSend('describe', file);
  assertSameRequest(mine.request, sdk);
  assert.equal(mine.request.headers['x-amz-target'], 'SageMaker.DescribeTrainingJob');
  assert.equal(mine.answer.SecondaryStatus, 'Training');
  sdk = await sdkSend(new StopTrainingJobCommand({ TrainingJobName: j.job_name }), j.backend.region);
  mine = await llmtuneSend('stop', file);
  assertSameRequest(mine.request, sdk);
  assert.equal(mine.request.headers['x-amz-target'], 'SageMaker.StopTrainingJob');
});

test('a SageMaker error answer is reported with its code and message', async () => {
  const j = job();
  const errorServer = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.statusCode = 400;
      res.setHeader('content-type', 'application/x-amz-json-1.1');
      res.setHeader('x-amzn-errortype', 'ResourceLimitExceeded:http://internal.amazon.com/coral/com.amazonaws.sagemaker/');
      res.end(JSON.stringify({ __type: 'com.amazonaws.sagemaker#ResourceLimitExceeded', Message: 'The account-level service limit \'ml.g5.2xlarge for training job usage\' is 0 Instances' }));
    });
  });
  await new Promise((resolve) => errorServer.listen(0, '127.0.0.1', resolve));
  try {
    j.backend.endpoint = `http://127.0.0.1:${errorServer.address().port}`;
    const file = join(dir, 'job-error.json');
    writeFileSync(file, JSON.stringify(j));
    const r = await runLlmtune(['sagemaker', 'request', 'create', '--job', file],
      { PATH: process.env.PATH, HOME: dir, AWS_ACCESS_KEY_ID: 'AKID', AWS_SECRET_ACCESS_KEY: 'secret' });
    assert.equal(r.status, 3, r.stderr);  // resource_exhausted
    assert.match(r.stderr, /SageMaker CreateTrainingJob failed with HTTP 400 ResourceLimitExceeded: The account-level service limit 'ml.g5.2xlarge for training job usage' is 0 Instances/);
    assert.match(r.stderr, /hint: .*Service Quotas/);
  } finally {
    errorServer.close();
  }
});
