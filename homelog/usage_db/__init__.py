"""Usage from the database: the Flask-free domain half of usage.

`homelog.usage` does the arithmetic on readings handed to it (pure, no database); this
package reads what it needs and keeps a source's usage setup:

- `stream`      the readings usage needs, streamed in time order (reduced on PostgreSQL),
                and the reading breaks that make the reduction possible
- `inputs`      the engine's inputs from a source: timezone, currency, swaps, price plans
- `query`       usage, costs or sensor statistics per period, and a value at an instant
- `labels`      how a period is named on pages, in charts, in the API and in CSV files
- `comparison`  this month against last month and last year (the dashboard's figures)
- `costs`       a home's costs per month and a meter's billing-year projection
- `tariffs`, `swaps`, `settings`   a source's prices, meter swaps and usage settings:
                checked as typed in, stored, changed and deleted
- `fields`      the checks of typed-in amounts, dates and register values they share

Bad input raises `homelog.errors.ValidationFailed`; nothing here reads a request.
"""
