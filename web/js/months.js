// Calendar months in an IANA time zone, as ledger/timefmt.py counts them
// (month_of, month_start, next_month): monthly figures are bucketed in the
// chain's zone, so that every node and every page puts a meeting held at
// 23:30 on 31 August in Hanoi into August.

const parts = new Map();

function zoned(ms, zone) {
  if (!parts.has(zone)) {
    parts.set(zone, new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }));
  }
  const out = {};
  for (const p of parts.get(zone).formatToParts(new Date(ms))) out[p.type] = p.value;
  return out;
}

/** "YYYY-MM" of the instant `ms` in `zone`. */
export function monthOf(ms, zone) {
  const p = zoned(ms, zone);
  return `${p.year.padStart(4, "0")}-${p.month}`;
}

function offsetAt(ms, zone) {
  const p = zoned(ms, zone);
  const asUtc = Date.UTC(Number(p.year), Number(p.month) - 1, Number(p.day), Number(p.hour), Number(p.minute),
    Number(p.second));
  return asUtc - (ms - (ms % 1000 + 1000) % 1000);
}

/** Unix ms of the first instant of `month` ("YYYY-MM") in `zone`. */
export function monthStart(month, zone) {
  const [year, mon] = month.split("-").map(Number);
  const guess = Date.UTC(year, mon - 1, 1);
  let start = guess - offsetAt(guess, zone);
  start = guess - offsetAt(start, zone); // once more, across a change of offset
  return start;
}

export function nextMonth(month) {
  const [year, mon] = month.split("-").map(Number);
  return mon === 12 ? `${String(year + 1).padStart(4, "0")}-01` : `${String(year).padStart(4, "0")}-${String(mon + 1).padStart(2, "0")}`;
}

export function addMonths(month, n) {
  const [year, mon] = month.split("-").map(Number);
  const index = year * 12 + (mon - 1) + n;
  return `${String(Math.floor(index / 12)).padStart(4, "0")}-${String((index % 12) + 1).padStart(2, "0")}`;
}

/** The months from `first` to `last`, both included ([] if first > last). */
export function monthsFrom(first, last) {
  const out = [];
  for (let m = first; m <= last && out.length < 1200; m = nextMonth(m)) out.push(m);
  return out;
}

export const MONTH = /^[0-9]{4}-(0[1-9]|1[0-2])$/;
