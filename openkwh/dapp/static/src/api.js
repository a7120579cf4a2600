// Reading: the dApp's JSON API, /api/v1; an answer that is not OK is an Error with its message.

export async function api(path) {
  const response = await fetch(`/api/v1${path}`);
  const body = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) throw new Error(body.error || `${response.status}`);
  return body;
}

