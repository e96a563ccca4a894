"""The numbers: FLOPs accounting, exact estimators, difficulty bins, frontier and claims."""
