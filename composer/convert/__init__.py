"""Conversions of a validated project to other engines' formats (``composer convert``).

* ``findings``   what a conversion could not carry over: a warning, or an error with ``--strict``
* ``names``      Kubernetes' name, label and quantity rules (DNS-1123, label syntax, ``500m``, ``64Mi``)
* ``pods``       a compose service as containers and a pod template (command, env, probes, security,
                 resources, volumes, the init containers that wait for dependencies)
* ``networking`` Services (ClusterIP, headless, published, aliases) and NetworkPolicies
* ``storage``    ConfigMaps, Secrets and PersistentVolumeClaims
* ``kubernetes`` ``convert()``: the whole project as a sorted list of manifests, and their YAML
* ``structure``  structural checks of the manifests (kinds, required fields, selectors, ports, names)

Everything here is pure: the project and what the files of secrets and configs hold are passed in,
manifests come out as plain dicts.  Nothing here touches the host.
"""
