"""Grid geometry of the warehouse floor (numpy only, no PyBullet).

- :mod:`~warehouse_sim.geometry.layout`: layouts (racks, aisles, pick faces, station, dock)
  from ASCII maps or presets, and the one grid/world conversion;
- :mod:`~warehouse_sim.geometry.paths`: single-robot search on the grid (A*, distance and
  goal fields), path smoothing and pure-pursuit path following;
- :mod:`~warehouse_sim.geometry.reservations`: multi-robot space-time planning with vertex,
  following and parking reservations, executed in plan order.

Used by the physics layer (:mod:`warehouse_sim.sim`) and by anything that moves robots on
the grid without physics.
"""
