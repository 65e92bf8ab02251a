-- The champion a promotion decision was made against (null before the first champion).
select champion_version
from promotions
where promotion_id = $promotion_id
