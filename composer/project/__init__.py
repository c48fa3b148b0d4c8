"""The project file: what the user wrote, read safely, validated and normalised.

* ``discovery``   which files a command reads and the project directory (no YAML, no pydantic)
* ``dotenv``      which ``.env`` files feed interpolation, and their parser
* ``yamlsafe``    bounded YAML reading with the line/column of every node
* ``interpolate`` ``${VAR:-default}`` & co.
* ``merge``       several ``-f`` files merged with compose's rules
* ``models/``     the normalised, frozen pydantic models, one module per area (``ProjectSpec`` ...)
* ``checks``      cross-references, every problem at once
* ``loader``      ``load_project()``: all of the above, in compose's order
* ``graph``       dependency order and topology (networkx), dot/mermaid
* ``hashing``     per-service config hashes for recreate decisions
* ``schema``      the JSON Schema generator (``python -m composer.project.schema``)
* ``units``       sizes, durations, rates

Nothing here touches the host except the loader reading the project's files
and the environment; the models and checks get what they need passed in.  This
package's ``__init__`` imports nothing so that each verb pays only for what it
uses.
"""
