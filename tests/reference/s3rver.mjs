// Starts s3rver (an S3 API server from npm) on loopback for the S3 tests.
//
//   node tests/reference/s3rver.mjs --dir DIR [--port N] [--bucket NAME]...
//
// Prints one line `READY <port>` when it listens (port 0 picks a free one) and serves until
// SIGTERM/SIGINT or its stdin closes (so it never outlives the test that started it).
// Credentials: access key S3RVER, secret S3RVER; signatures are verified.
import S3rver from "s3rver";

const args = process.argv.slice(2);
let dir = "", port = 0;
const buckets = [];
for (let i = 0; i < args.length; ++i) {
    if (args[i] === "--dir") dir = args[++i];
    else if (args[i] === "--port") port = Number(args[++i]);
    else if (args[i] === "--bucket") buckets.push({ name: args[++i] });
    else {
        console.error(`s3rver.mjs: unknown argument ${args[i]}`);
        process.exit(2);
    }
}
if (!dir) {
    console.error("s3rver.mjs: --dir is required");
    process.exit(2);
}

const server = new S3rver({
    address: "127.0.0.1",
    port,
    directory: dir,
    silent: true,
    configureBuckets: buckets,
    vhostBuckets: false,
});
const addr = await server.run();
process.stdout.write(`READY ${addr.port}\n`);

const stop = async () => {
    await server.close().catch(() => {});
    process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
