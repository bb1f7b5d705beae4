// What a web or mobile frontend writes against the generated types: sign up, sign in, find a session
// within a 15-minute walk, book a seat. `tsc --noEmit` type-checks it against freshly generated types,
// so a contract change that would break a frontend (a renamed field, a removed operation, a new booking
// status) fails the build here first.
import type { components as Orgs, operations as OrgsOps } from "../generated/orgs";
import type { components as Catalog, operations as CatalogOps } from "../generated/catalog";
import type { components as Booking, operations as BookingOps } from "../generated/booking";

type Json<Body> = Body extends { content: { "application/json": infer T } } ? T : never;
type Form<Body> = Body extends { content: { "application/x-www-form-urlencoded": infer T } } ? T : never;

export type RegisterBody = Json<OrgsOps["register"]["requestBody"]>;
export type Person = Json<OrgsOps["register"]["responses"][201]>;
export type SignInForm = Form<OrgsOps["issueToken"]["requestBody"]>;
export type Token = Json<OrgsOps["issueToken"]["responses"][200]>;
export type Me = Json<OrgsOps["getMe"]["responses"][200]>;
export type SearchQuery = NonNullable<CatalogOps["searchSessions"]["parameters"]["query"]>;
export type SearchPage = Json<CatalogOps["searchSessions"]["responses"][200]>;
export type BookingBody = Json<BookingOps["createBooking"]["requestBody"]>;
export type BookingOut = Json<BookingOps["createBooking"]["responses"][201]>;
export type Availability = Json<BookingOps["getAvailability"]["responses"][200]>;
export type Problem = Orgs["schemas"]["Problem"] | Catalog["schemas"]["Problem"] | Booking["schemas"]["Problem"];

export class ApiError extends Error {
  constructor(readonly problem: Problem) {
    super(`${problem.status} ${problem.title}: ${problem.detail}`);
  }
}

export class LearningCityClient {
  private token: string | null = null;

  constructor(
    private readonly baseUrl: string,
    private readonly language = "zh-CN, en;q=0.8",
  ) {}

  private async send<T>(path: string, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(init.headers);
    headers.set("Accept-Language", this.language);
    if (this.token !== null) headers.set("Authorization", `Bearer ${this.token}`);
    const response = await fetch(this.baseUrl + path, { ...init, headers });
    if (!response.ok) throw new ApiError((await response.json()) as Problem);
    return (await response.json()) as T;
  }

  register(body: RegisterBody): Promise<Person> {
    return this.send<Person>("/v1/auth/register", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
  }

  async signIn(form: SignInForm): Promise<Token> {
    const token = await this.send<Token>("/v1/auth/token", {
      method: "POST",
      body: new URLSearchParams({ username: form.username, password: form.password }),
    });
    this.token = token.access_token;
    return token;
  }

  me(): Promise<Me> {
    return this.send<Me>("/v1/me");
  }

  searchNearby(query: SearchQuery): Promise<SearchPage> {
    const params = new URLSearchParams();
    for (const [name, value] of Object.entries(query)) {
      if (value !== undefined && value !== null) params.set(name, String(value));
    }
    return this.send<SearchPage>(`/v1/search/sessions?${params.toString()}`);
  }

  book(body: BookingBody, idempotencyKey: string): Promise<BookingOut> {
    return this.send<BookingOut>("/v1/bookings", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Idempotency-Key": idempotencyKey },
      body: JSON.stringify(body),
    });
  }

  availability(sessionId: string): Promise<Availability> {
    return this.send<Availability>(`/v1/availability/${encodeURIComponent(sessionId)}`);
  }
}

/** One line of a result list, e.g. "西湖读书节 · 2027-03-02T19:00:00+08:00 · 6 min walk · 12 seats". */
export function describeResult(item: SearchPage["items"][number]): string {
  const walk = item.walk_minutes === null ? "" : ` · ${item.walk_minutes} min walk`;
  const where = item.site === null ? "" : ` · ${item.site.name_display}`;
  return `${item.activity.title_display} · ${item.session.starts_at}${where}${walk} · ${item.seats_available} seats`;
}

/** What the booking screen says; exhaustive, so a new booking status is a compile error until handled. */
export function bookingMessage(booking: BookingOut): string {
  switch (booking.status) {
    case "confirmed":
      return `Booked ${booking.seats} seat(s); show code ${booking.checkin_code ?? "(pending)"} at the door`;
    case "waitlisted":
      return `On the waitlist at position ${booking.waitlist_position ?? "?"}`;
    case "cancelled":
      return `Cancelled at ${booking.cancelled_at ?? "an unknown time"}`;
    case "no_show":
      return "Not checked in by the end of the session: counted as a no-show";
    default: {
      const unhandled: never = booking.status;
      return unhandled;
    }
  }
}

/** Sign up, sign in, find the nearest session with free seats around West Lake, and book one seat. */
export async function bookNearestSeat(client: LearningCityClient, email: string): Promise<string> {
  await client.register({ email, password: "correct horse battery", display_name: "王小明 Wang Xiaoming" });
  await client.signIn({ username: email, password: "correct horse battery" });
  const me = await client.me();
  const page = await client.searchNearby({ near: "30.2590,120.1640", walk_minutes: 15, available: true, limit: 5 });
  const nearest = page.items[0];
  if (nearest === undefined) return `${me.display_name}: nothing within a 15-minute walk`;
  const booking = await client.book({ session_id: nearest.session.id, seats: 1, seat: "standard" }, crypto.randomUUID());
  const seats = await client.availability(booking.session_id);
  return `${describeResult(nearest)}\n${bookingMessage(booking)} (${seats.seats_available} left)`;
}
