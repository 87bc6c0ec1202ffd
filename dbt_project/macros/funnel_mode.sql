{#- The funnel mode the marts are built in (var `funnel_mode`, dbt_project.yml): `reached` (default)
    or `ordered`. Any other value fails the build when a model using it compiles, naming both modes
    (checked only when dbt executes: at parse time, and under sqlfluff, vars are placeholders). -#}
{% macro funnel_mode() -%}
    {%- set mode = var('funnel_mode', 'reached') -%}
    {%- if execute and mode not in ['reached', 'ordered'] -%}
        {{ exceptions.raise_compiler_error(
            "var funnel_mode is '" ~ mode ~ "'; use 'reached' (the default: a session reached a funnel "
            ~ "step if it has an event of that step or of any later step, in any order) or 'ordered' "
            ~ "(a step counts only after the previous step in time), e.g. "
            ~ "--vars '{funnel_mode: ordered}' or dbt_project.yml vars"
        ) }}
    {%- endif -%}
    {{ return(mode) }}
{%- endmacro %}

