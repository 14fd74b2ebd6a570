// Signs a table of requests with the AWS SDK for JavaScript's SigV4 signer
// (@smithy/signature-v4 with @aws-crypto/sha256-js): the reference for sigv4_test.
//
// Input (stdin): a JSON array of cases
//   {method, url, headers: {name: value}, body, unsigned_payload, region, service, s3,
//    access_key_id, secret_access_key, session_token, time}
// `url` is as sent on the wire (path and query percent-encoded); `time` is epoch seconds.
// Output (stdout): a JSON array of the headers the signer added, per case:
//   {authorization, "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"}
import { SignatureV4 } from "@smithy/signature-v4";
import { Sha256 } from "@aws-crypto/sha256-js";

const input = JSON.parse(await new Promise((resolve) => {
    let text = "";
    process.stdin.setEncoding("utf8");
    process.stdin.on("data", (d) => (text += d));
    process.stdin.on("end", () => resolve(text));
}));

// The SDK hands the signer a path already encoded for the wire and a query of decoded
// values; '+' in a query is a literal plus in AWS's rules.
function decode(s) {
    return decodeURIComponent(s);
}

const out = [];
for (const c of input) {
    const u = new URL(c.url);
    const rawPath = c.url.slice(c.url.indexOf(u.host) + u.host.length).split(/[?#]/)[0] || "/";
    const query = {};
    const q = c.url.includes("?") ? c.url.slice(c.url.indexOf("?") + 1).split("#")[0] : "";
    for (const item of q.split("&")) {
        if (!item) continue;
        const eq = item.indexOf("=");
        const k = decode(eq < 0 ? item : item.slice(0, eq));
        const v = eq < 0 ? "" : decode(item.slice(eq + 1));
        if (k in query) query[k] = [].concat(query[k], v);
        else query[k] = v;
    }
    const headers = { host: u.host, ...c.headers };
    if (c.unsigned_payload) headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD";
    const signer = new SignatureV4({
        credentials: {
            accessKeyId: c.access_key_id,
            secretAccessKey: c.secret_access_key,
            ...(c.session_token ? { sessionToken: c.session_token } : {}),
        },
        region: c.region,
        service: c.service,
        sha256: Sha256,
        uriEscapePath: !c.s3,
        applyChecksum: true,
    });
    const signed = await signer.sign(
        {
            method: c.method,
            protocol: u.protocol,
            hostname: u.hostname,
            port: u.port ? Number(u.port) : undefined,
            path: rawPath,
            query,
            headers,
            body: c.body,
        },
        { signingDate: new Date(c.time * 1000) },
    );
    const pick = {};
    for (const name of ["authorization", "x-amz-date", "x-amz-content-sha256", "x-amz-security-token"])
        if (signed.headers[name] !== undefined) pick[name] = signed.headers[name];
    out.push(pick);
}
process.stdout.write(JSON.stringify(out));
