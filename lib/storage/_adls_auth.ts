/**
 * ADLS Gen2 locations and credentials: parse `abfss://fs@account.dfs.core.windows.net/path` and
 * `https://account.dfs.core.windows.net/fs/path`, and build a DataLakeServiceClient from env vars
 * (connection string, account key, SAS token, or Microsoft Entra ID via DefaultAzureCredential).
 * Private to lib/storage; secrets are never put in messages.
 *
 * @module
 */
import type { DataLakeServiceClient, StoragePipelineOptions } from "@azure/storage-file-datalake";
import { AdlsAuthenticationError, AdlsLocationError } from "./_adls_errors.ts";

/** A parsed ADLS Gen2 location. */
export interface AdlsLocation {
  /** Storage account name. */
  account: string;
  /** Filesystem (container) name. */
  filesystem: string;
  /** Path of the table root inside the filesystem, no leading or trailing slash ("" = root). */
  root: string;
  /** DFS host, e.g. `acct.dfs.core.windows.net`. */
  host: string;
}

/** Env var names read for ADLS (values of the secret ones never printed). */
export const ADLS_ENV = {
  connectionString: "AZURE_STORAGE_CONNECTION_STRING",
  accountKey: "AZURE_STORAGE_ACCOUNT_KEY",
  sasToken: "AZURE_STORAGE_SAS_TOKEN",
  endpoint: "AZURE_STORAGE_DFS_ENDPOINT",
} as const;

const DFS_HOST = /^([a-z0-9]{3,24})\.dfs\.([a-z0-9.-]+)$/;

function cleanRoot(path: string, location: string): string {
  const segs = path.split("/").filter((s) => s !== "");
  let decoded: string[];
  try {
    decoded = segs.map((s) => decodeURIComponent(s));
  } catch {
    throw new AdlsLocationError(`location '${location}' has a badly percent-encoded path`);
  }
  if (decoded.some((s) => s === "." || s === "..")) {
    throw new AdlsLocationError(`location '${location}' must not contain '.' or '..' segments`);
  }
  return decoded.join("/");
}

/**
 * Parse an ADLS Gen2 location: `abfss://<fs>@<account>.dfs.core.windows.net/<path>` (also
 * `abfs://`) or `https://<account>.dfs.core.windows.net/<fs>/<path>`.
 */
export function parseAdlsLocation(location: string): AdlsLocation {
  if (/\/\.\.?(\/|$)/.test(location.replace(/^[a-z]+:\/\//i, "").replace(/[?#].*$/, ""))) {
    throw new AdlsLocationError(`location '${location}' must not contain '.' or '..' segments`);
  }
  let url: URL;
  try {
    url = new URL(location);
  } catch {
    throw new AdlsLocationError(`'${location}' is not a URL`);
  }
  const scheme = url.protocol.replace(/:$/, "").toLowerCase();
  const host = url.hostname.toLowerCase();
  const hm = DFS_HOST.exec(host);
  if (scheme === "abfss" || scheme === "abfs") {
    const filesystem = decodeURIComponent(url.username);
    if (!filesystem || !hm) {
      throw new AdlsLocationError(
        `'${location}' is not an ADLS Gen2 location; expected ` +
          `abfss://<filesystem>@<account>.dfs.core.windows.net/<path>`,
      );
    }
    if (url.password) {
      throw new AdlsLocationError(
        `'${scheme}://' locations carry no password; use env credentials`,
      );
    }
    return { account: hm[1], filesystem, root: cleanRoot(url.pathname, location), host };
  }
  if (scheme === "https" && hm) {
    if (url.search) {
      throw new AdlsLocationError(
        `location must not carry a query (a SAS token belongs in ${ADLS_ENV.sasToken}, not in the URL)`,
      );
    }
    const [fs, ...rest] = url.pathname.split("/").filter((s) => s !== "");
    if (!fs) {
      throw new AdlsLocationError(
        `'${location}' names no filesystem; expected https://<account>.dfs.core.windows.net/<filesystem>/<path>`,
      );
    }
    return {
      account: hm[1],
      filesystem: decodeURIComponent(fs),
      root: cleanRoot(rest.join("/"), location),
      host,
    };
  }
  throw new AdlsLocationError(
    `'${location}' is not an ADLS Gen2 location; use abfss://<filesystem>@<account>.dfs.core.windows.net/<path> ` +
      `or https://<account>.dfs.core.windows.net/<filesystem>/<path>`,
  );
}

/** Parse `Key=Value;Key=Value` (values may contain '='). */
function parseConnectionString(cs: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of cs.split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim().toLowerCase()] = part.slice(i + 1).trim();
  }
  return out;
}

/** A ready service client and how it authenticates (for messages). */
export interface AdlsClient {
  /** The SDK's service client. */
  service: DataLakeServiceClient;
  /** Account URL the client talks to (no secrets). */
  accountUrl: string;
  /** SAS token to append to rename destinations, when SAS auth is used. */
  sas?: string;
  /** How it authenticates, e.g. "account key (AZURE_STORAGE_ACCOUNT_KEY)". */
  auth: string;
}

/**
 * Build a service client for `loc` from env: AZURE_STORAGE_CONNECTION_STRING, else
 * AZURE_STORAGE_ACCOUNT_KEY, else AZURE_STORAGE_SAS_TOKEN, else DefaultAzureCredential
 * (service principal AZURE_TENANT_ID/AZURE_CLIENT_ID/AZURE_CLIENT_SECRET, workload or managed
 * identity, Azure CLI / azd / PowerShell login). AZURE_STORAGE_DFS_ENDPOINT overrides the URL.
 */
export async function createAdlsClient(
  loc: AdlsLocation,
  env: (name: string) => string | undefined,
  pipeline: StoragePipelineOptions,
): Promise<AdlsClient> {
  const sdk = await import("@azure/storage-file-datalake");
  const override = env(ADLS_ENV.endpoint)?.replace(/\/+$/, "");
  let accountUrl = override || `https://${loc.host}`;
  const cs = env(ADLS_ENV.connectionString);
  if (cs) {
    const p = parseConnectionString(cs);
    if (p.usedevelopmentstorage) {
      throw new AdlsAuthenticationError(
        `${ADLS_ENV.connectionString} points at the storage emulator, which has no DFS endpoint; ` +
          `use a real account, or ${ADLS_ENV.endpoint} with the DFS stand-in in tests`,
      );
    }
    if (p.accountname && p.accountname !== loc.account) {
      throw new AdlsAuthenticationError(
        `${ADLS_ENV.connectionString} is for account '${p.accountname}' but the location is in ` +
          `account '${loc.account}'; use the connection string of '${loc.account}'`,
      );
    }
    if (!override) {
      if (p.dfsendpoint) accountUrl = p.dfsendpoint.replace(/\/+$/, "");
      else if (p.blobendpoint) {
        accountUrl = p.blobendpoint.replace(/\/+$/, "").replace(".blob.", ".dfs.");
      } else if (p.endpointsuffix) {
        accountUrl = `${
          p.defaultendpointsprotocol ?? "https"
        }://${loc.account}.dfs.${p.endpointsuffix}`;
      }
    }
    if (p.accountkey) {
      const cred = new sdk.StorageSharedKeyCredential(loc.account, p.accountkey);
      return {
        service: new sdk.DataLakeServiceClient(accountUrl, sdk.newPipeline(cred, pipeline)),
        accountUrl,
        auth: `shared key from ${ADLS_ENV.connectionString}`,
      };
    }
    if (p.sharedaccesssignature) {
      const sas = p.sharedaccesssignature.replace(/^\?/, "");
      return {
        service: new sdk.DataLakeServiceClient(
          `${accountUrl}?${sas}`,
          sdk.newPipeline(new sdk.AnonymousCredential(), pipeline),
        ),
        accountUrl,
        sas,
        auth: `SAS from ${ADLS_ENV.connectionString}`,
      };
    }
    throw new AdlsAuthenticationError(
      `${ADLS_ENV.connectionString} has neither AccountKey nor SharedAccessSignature`,
    );
  }
  const key = env(ADLS_ENV.accountKey);
  if (key) {
    let cred;
    try {
      cred = new sdk.StorageSharedKeyCredential(loc.account, key);
    } catch {
      throw new AdlsAuthenticationError(`${ADLS_ENV.accountKey} is not a base64 account key`);
    }
    return {
      service: new sdk.DataLakeServiceClient(accountUrl, sdk.newPipeline(cred, pipeline)),
      accountUrl,
      auth: `account key (${ADLS_ENV.accountKey})`,
    };
  }
  const sasEnv = env(ADLS_ENV.sasToken);
  if (sasEnv) {
    const sas = sasEnv.replace(/^\?/, "");
    return {
      service: new sdk.DataLakeServiceClient(
        `${accountUrl}?${sas}`,
        sdk.newPipeline(new sdk.AnonymousCredential(), pipeline),
      ),
      accountUrl,
      sas,
      auth: `SAS token (${ADLS_ENV.sasToken})`,
    };
  }
  const identity = await import("@azure/identity");
  const cred = new identity.DefaultAzureCredential();
  return {
    service: new sdk.DataLakeServiceClient(accountUrl, sdk.newPipeline(cred, pipeline)),
    accountUrl,
    auth: "Microsoft Entra ID (DefaultAzureCredential: service principal env, managed identity " +
      "or developer login)",
  };
}
