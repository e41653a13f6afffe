# Capacity trend of the monthly maintenance (capacity_trend over the dated daily reports).
# make test runs these tests within test-units/units and test-integration; test-capacity is the area alone.
.PHONY: test-capacity
test-capacity: venv collection
	$(call area-tests,capacity)
